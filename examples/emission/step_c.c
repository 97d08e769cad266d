/* The native C version of step.gvm's logic, and bounce(), which the threads call. */
#include <stdint.h>

int32_t bounce(int32_t vy)
{
    return (vy * -3) >> 2;          /* keeps three quarters of the speed, upwards */
}

static int32_t cbodies[16];

static void body(int32_t *b)
{
    b[1] = b[1] - 3;
    b[0] = b[0] + b[1];
    if (b[0] < 0) {
        b[0] = 0;
        b[1] = bounce(b[1]);
    }
}

int32_t checksum_c(int32_t n)
{
    int32_t sum = 0, i;
    for (i = 0; i < n; i++)
        sum = (int32_t)((uint32_t)sum * 31u + (uint32_t)cbodies[2 * i]) ^ cbodies[2 * i + 1];
    return sum;
}

int32_t simulate_c(int32_t n, int32_t steps)
{
    int32_t i;
    for (i = 0; i < n; i++) {
        cbodies[2 * i] = 100 + 37 * i;
        cbodies[2 * i + 1] = 5 * i;
    }
    do {
        for (i = 0; i < n; i++)
            body(&cbodies[2 * i]);
    } while (--steps != 0);
    return checksum_c(n);
}
