"""Safe mode of the console-side C runtime on each CPU (docs/runtime-c.md "Safe mode"): a
word on the game's stack that returns into a module's code keeps the module loaded,
wherever the call that left it sits in the module and wherever the CPU's stack puts it.

The runtime's rule is the reference loader's without its frame unwinding, so it may
refuse an unload the reference allows, never allow one the reference refuses.  These
tests build, per console, a module whose very first instruction is a call and a resident
whose ``unload_with(handle, word)`` keeps ``word`` in its frame while it calls
UnloadModule: the shortest return addresses each instruction set can leave."""

from __future__ import annotations

import pytest

from conftest import run_gamevm
from gamevm_build.runtime.reference import TLoadStatus

#: per console: the module's code (a call at its first byte), then the offsets from its
#: base of a return address after that call and of a word no call returns to.
FIRST_CALLS = {
    "psx": (".set noreorder\nfirst_a:\njal k_twice\nnop\njr $ra\nnop\n", 8, 4),
    "n64": (".set noreorder\nfirst_a:\njal k_twice\nnop\njr $ra\nnop\n", 8, 4),
    # jsr (a0) is 2 bytes long: its return address is base + 2
    "segacd": ("first_a:\njsr (%a0)\nrts\nnop\nnop\n", 2, 4),
    # a Thumb bl pair at base returns to base + 4, with bit 0 set for Thumb state
    "gba": (".thumb\n.thumb_func\nfirst_a:\nbl k_twice\nbx lr\nnop\nnop\n", 5, 3),
    "3do": ("first_a:\nbl k_twice\nmov pc, lr\nnop\nnop\n", 4, 8),
}

KERNEL_C = ('#include "gamevm.h"\n'
            "void _start(void) {}\n"
            "int k_twice(int x) { return 2 * x; }\n")

#: the 68000 keeps its stack 2-byte aligned: a resident that moves the word from its
#: argument slot (cleared) into its frame, PAD bytes (0 or 2) lower, so that one of the
#: two lies at an address of 2 mod 4
M68K_UNLOAD_WITH = r"""
__asm__(".text\n.globl unload_with\nunload_with:\n"
        "move.l 4(%sp),%d0\n"
        "move.l 8(%sp),%d1\n"
        "clr.l 8(%sp)\n"
        "sub.l #PAD,%sp\n"
        "move.l %d1,-(%sp)\n"
        "move.l %d0,-(%sp)\n"
        "jsr UnloadModule\n"
        "add.l #8+PAD,%sp\n"
        "rts\n");
"""

C_UNLOAD_WITH = ("int unload_with(TModuleHandle h, unsigned word) {\n"
                 "    volatile unsigned keep[2];\n"
                 "    keep[0] = word; keep[1] = 0;\n"
                 "    return (int)UnloadModule(h) + (int)keep[1];\n"
                 "}\n")


def unload_with_residents(tmp_path, target: str, sources: dict,
                          runtimes=("host", "target"), unload_with: str = C_UNLOAD_WITH):
    """Modules from C ``sources`` (name -> text), and a resident per runtime
    (kernel-RUNTIME.elf) whose ``unload_with(handle, word)`` keeps ``word`` in its own
    frame while it calls UnloadModule (a word safe mode may take for a return address)."""
    for name, text in sources.items():
        (tmp_path / f"{name}.c").write_text(text)
        proc = run_gamevm("module", "-t", target, "-o", tmp_path / f"{name}.elf",
                          tmp_path / f"{name}.c")
        assert proc.returncode == 0, proc.stderr
    kernel_c = tmp_path / "kernel.c"
    kernel_c.write_text(KERNEL_C + unload_with)
    modules = [a for name in sources for a in ("--modules", tmp_path / f"{name}.elf")]
    for runtime in runtimes:
        proc = run_gamevm("resident", "-t", target, "-o", tmp_path / f"kernel-{runtime}.elf",
                          "--runtime", runtime, "--keep", "unload_with", *modules, kernel_c)
        assert proc.returncode == 0, proc.stderr


def _build(tmp_path, target: str, module_asm: str, unload_with: str = C_UNLOAD_WITH,
           others=None):
    """Module ``first`` from ``module_asm`` (and the modules of C source ``others``) and
    the C runtime's resident with ``unload_with``; the console that runs it."""
    from gamevm_build.play.console import Console
    asm = (".text\n.globl first_a\n" + module_asm).replace("\n", "\\n")
    sources = {"first": f'extern int k_twice(int);\n__asm__("{asm}");\n', **(others or {})}
    unload_with_residents(tmp_path, target, sources, ("target",), unload_with)
    return Console(target, tmp_path / "kernel-target.elf", search_paths=[tmp_path])


@pytest.mark.parametrize("target", sorted(FIRST_CALLS))
def test_a_call_at_a_modules_first_byte_keeps_it_in_use(tmp_path, target):
    """The return address of a call at the module's very first instruction, kept in a
    live frame, refuses the unload (lsModuleInUse) on every CPU: base + 8 after a MIPS
    ``jal`` and its delay slot, base + 2 after a 68000 ``jsr (a0)``, base + 4 after an ARM
    ``bl`` and base + 4 in Thumb state after a Thumb ``bl`` pair.  A word where no call
    returns to unloads it; no byte before the module is read as an instruction.  (The psx
    case was first written for the survivor gvm_loader.c:in_use:const_10, ``v - lo >= 8``
    made ``>= 9``: a return to base + 8 was not counted.)"""
    module_asm, in_use, free = FIRST_CALLS[target]
    c = _build(tmp_path, target, module_asm)
    lm = c.load("first")
    assert lm.symbols["first_a"] & ~1 == lm.base
    for offset, want in ((in_use, TLoadStatus.lsModuleInUse), (free, TLoadStatus.lsSuccess)):
        lm = c.loader.by_name("first") or c.load("first")
        assert c.call("unload_with", lm.handle, lm.base + offset) == want, offset


@pytest.mark.parametrize("pad", [0, 2])
@pytest.mark.parametrize("target", ["segacd"])
def test_a_68000_return_address_at_any_even_stack_address_keeps_a_module(tmp_path, target,
                                                                         pad):
    """The 68000's stack is only 2-byte aligned: a return address into a module kept at
    an address of 2 mod 4 (one of the two pads) refuses the unload as one at 0 mod 4 does
    (the module's call is 8 bytes in, past any bound on where a call may lie)."""
    module_asm, in_use, free = "first_a:\nnop\nnop\nnop\njsr (%a0)\nrts\n", 8, 4
    c = _build(tmp_path, target, module_asm,
               M68K_UNLOAD_WITH.replace("PAD", str(pad)))
    for offset, want in ((in_use, TLoadStatus.lsModuleInUse), (free, TLoadStatus.lsSuccess)):
        lm = c.loader.by_name("first") or c.load("first")
        assert c.call("unload_with", lm.handle, lm.base + offset) == want, offset


#: per console: the last bytes of a module's image that would read as a call, and the
#: offset from the next module's base of the return address that call would leave
CALL_LOOKING_TAILS = {
    "psx": ("const unsigned before_t[4] __attribute__((aligned(16))) = {0, 0, 0, 0x0C000000};", 4),
    "n64": ("const unsigned before_t[4] __attribute__((aligned(16))) = {0, 0, 0, 0x0C000000};", 4),
    "segacd": ("const unsigned short before_t[8] __attribute__((aligned(16))) = "
               "{0, 0, 0, 0, 0, 0, 0, 0x4E90};", 0),
    "gba": ("const unsigned short before_t[8] __attribute__((aligned(16))) = "
            "{0, 0, 0, 0, 0, 0, 0xF000, 0xF800};", 1),
    "3do": ("const unsigned before_t[4] __attribute__((aligned(16))) = {0, 0, 0, 0xEB000000};", 0),
}


@pytest.mark.parametrize("target", sorted(CALL_LOOKING_TAILS))
def test_bytes_before_a_module_are_not_read_as_its_call(tmp_path, target):
    """A module loaded right after one whose image ends in bytes that read as a call
    (MIPS ``jal``, 68000 ``jsr (a0)``, ARM ``bl``, a Thumb ``bl`` pair): a word in a live
    frame where that call would return, at the second module's first bytes, does not keep
    the second module (its unload succeeds): only a call inside a module makes an address
    in it a return address.  Written for the survivor gvm_reloc.c:gvm_after_call:aor_1
    (``v - lo < 8`` made ``v + lo < 8``: never true, so the word before the module was
    read as its instruction)."""
    tail, offset = CALL_LOOKING_TAILS[target]
    module_asm = FIRST_CALLS[target][0]
    c = _build(tmp_path, target, module_asm, others={"before": "int before_f(void) { return 1; }\n" + tail + "\n"})
    before = c.load("before")
    lm = c.load("first")
    assert lm.base == before.base + before.size
    last = c.machine.read(lm.base - 4, 4)
    assert last.strip(b"\0"), last
    assert c.call("unload_with", lm.handle, lm.base + offset) == TLoadStatus.lsSuccess
    assert c.loader.by_name("first") is None


@pytest.mark.parametrize("target", ["psx"])
def test_a_return_address_at_the_end_of_a_modules_code_is_not_its(tmp_path, target):
    """A module whose code ends with a call (a ``jal`` and its delay slot, as a call of a
    function that does not return ends): the address after it is the end of the code,
    outside the module's code by the reference loader's half-open range, so a word there
    in a live frame does not keep the module; base + 8, after the first of its two calls,
    does.  Written for what was listed as the equivalent mutant gvm_loader.c:in_use
    ``< hi - lo`` made ``<=`` (the end of the code taken as in it), which this tells."""
    c = _build(tmp_path, target,
               ".set noreorder\nfirst_a:\njal k_twice\nnop\njal k_twice\nnop\n")
    lm = c.load("first")
    assert lm.code_size == 16
    for offset, want in ((16, TLoadStatus.lsSuccess), (8, TLoadStatus.lsModuleInUse)):
        lm = c.loader.by_name("first") or c.load("first")
        assert c.call("unload_with", lm.handle, lm.base + offset) == want, offset



#: a PS1 resident whose unload_with keeps the word in its caller's home slot for a3 (o32
#: lets a callee spill its arguments there): the stack's last word, just below its top
#: (the emulator calls it with sp 16 bytes below the top)
PSX_TOP_WORD_UNLOAD_WITH = r"""
__asm__(".text\n.globl unload_with\n.set noreorder\nunload_with:\n"
        "sw $a1, 12($sp)\n"
        "addiu $sp, $sp, -24\n"
        "sw $ra, 20($sp)\n"
        "jal UnloadModule\n"
        "nop\n"
        "lw $ra, 20($sp)\n"
        "sw $zero, 36($sp)\n"
        "jr $ra\n"
        "addiu $sp, $sp, 24\n");
"""


@pytest.mark.parametrize("target", ["psx"])
def test_a_return_address_in_the_stacks_last_word_keeps_a_module(tmp_path, target):
    """The word just below the stack's top is on the stack too: a return address into a
    module kept there refuses its unload, as one kept anywhere else on the stack does.
    Written for the survivor gvm_loader.c:in_use:ror_1 (the scan's ``a + 4u <= top``
    made ``<``: the last word was never read)."""
    module_asm, in_use, free = FIRST_CALLS[target]
    c = _build(tmp_path, target, module_asm, PSX_TOP_WORD_UNLOAD_WITH)
    top = c.machine.stack_top
    for offset, want in ((in_use, TLoadStatus.lsModuleInUse), (free, TLoadStatus.lsSuccess)):
        lm = c.loader.by_name("first") or c.load("first")
        assert c.call("unload_with", lm.handle, lm.base + offset) == want, offset
        assert c.machine.read_u32(top - 4) == 0
