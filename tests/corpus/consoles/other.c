/* The other object: compiled as Thumb code on the GBA (interworking both ways). */
extern int calls_entry(int x);
extern int k_add(int a, int b);
int other_counter = 5;

int other_twice(int x) { other_counter++; return 2 * x; }
int other_counter_value(void) { return other_counter; }
int other_back(int x) { return calls_entry(x) + k_add(other_counter, 1); }
