"""The i386 int3 entry code of each era, assembled into the image (arch/x86/entry/entry_32.S).

When a CPU executes ``int3`` in kernel mode it pushes only EFLAGS, CS and EIP (no ESP/SS: no
privilege change) and enters ``int3``. What the entry code builds on top of that decides
where ``regs->sp`` points, and so whether ``int3_emulate_push`` has room to write:

* ``short`` (up to 5.2): ``pushl $-1`` and ``SAVE_ALL`` build pt_regs directly below the
  hardware frame. ``regs->sp`` and ``regs->ss`` are not saved: the two words there are the
  interrupted stack's top words (the kernel read the stack pointer as ``&regs->sp``,
  ``kernel_stack_pointer()``).
* ``full`` (from 5.3, 3c88c692c287 "x86/stackframe/32: Provide consistent pt_regs"):
  ``FIXUP_FRAME`` (inside ``SAVE_ALL``, after ``PUSH_GS``) marks CS with ``CS_FROM_KERNEL``,
  pushes ss and sp (= the interrupted stack) and copies the five words below them, so the
  original five words become a gap between the interrupted stack and pt_regs. On the way out
  ``IRET_FRAME`` rebuilds the three-word iret frame right below the (possibly moved)
  ``regs->sp`` and ``iret`` returns with esp = regs->sp.

Model choices: the lazy-GS build (``PUSH_GS`` is ``pushl $0``); the segment reloads of
``SAVE_ALL`` (__USER_DS, __KERNEL_PERCPU), the stack switch, IRQ tracing and preemption on
exit are left out (no user mode, no per-CPU segment, no interrupts in the model). ``do_int3``
asks the modelled kernel for its decision through a callout (``int INT3_DECIDE``: eax =
``regs->ip - 1`` and ebx = regs in, the action and target written to the two words on top of
its stack) and then applies it in i386 code, as
``int3_emulate_jmp`` / ``int3_emulate_call`` do (arch/x86/include/asm/text-patching.h).
"""

from __future__ import annotations

from ftscen.core.profile import KernelProfile
from ftscen.image import layout as L

#: Where the entry unit is assembled: the last page of the runtime region.
ENTRY_BASE = L.RUNTIME_BASE + L.RUNTIME_SIZE - L.PAGE

#: Callout vectors of the model's ``do_int3`` (an ``int N`` the machine handles on the host).
INT3_DECIDE = 0xF0
INT3_DONE = 0xF1

#: arch/x86/entry/entry_32.S (3c88c692c287): the CS dword's high bits mark a kernel frame.
CS_FROM_KERNEL = 1 << 29
SEGMENT_RPL_MASK = 3
#: pt_regs words (PT_REGS order) up to and including flags: what the CPU and SAVE_ALL build.
SHORT_WORDS = 15


def entry_kind(profile: KernelProfile) -> str:
    """``full`` from 5.3 and wherever ``dynamic_trampolines`` selects the x86_64 logic;
    ``short`` otherwise.

    x86_64's int3 entry leaves a gap too (``idtentry int3 ... create_gap=1``, "x86_64: Add
    gap to int3 to allow for call emulation", 5.2, taken with the call emulation into the
    stable kernels it was backported to); the model stands it in with the i386 full frame,
    which has the property that matters: regs->sp is the interrupted stack, with free words
    below it. Before 5.2 the x86_64 handler never pushes, so the gap is never used there."""
    return "full" if profile.release >= (5, 3) or profile.dynamic_trampolines else "short"


def fixup_frame_asm() -> str:
    """``FIXUP_FRAME`` (kernel mode only; the model has no user mode or VM86)."""
    copy = "".join(f"  push dword ptr [esp + 24]        # {w}\n" for w in _GAP_WORDS)
    return f"""  and dword ptr [esp + 12], 0xffff  # clear the CS dword's high bits
  test dword ptr [esp + 12], {SEGMENT_RPL_MASK}
  jnz int3_no_fixup
  or dword ptr [esp + 12], {CS_FROM_KERNEL:#x}   # CS_FROM_KERNEL
  .byte 0x16                        # push ss
  push esp                          # sp (points at ss)
  add dword ptr [esp], 24           # point sp back at the previous context
{copy}int3_no_fixup:
"""


_GAP_WORDS = ("flags", "cs", "ip", "orig_eax", "gs")


def iret_frame_asm() -> str:
    """``IRET_FRAME``: the iret frame rebuilt right below the (modified) regs->sp."""
    return f"""  test dword ptr [esp + 4], {CS_FROM_KERNEL:#x}
  jz int3_iret
  push eax
  push ecx
  mov eax, dword ptr [esp + 20]     # (modified) regs->sp
  mov ecx, dword ptr [esp + 16]     # flags
  mov dword ptr [eax - 4], ecx
  mov ecx, dword ptr [esp + 12]     # cs
  and ecx, 0xffff
  mov dword ptr [eax - 8], ecx
  mov ecx, dword ptr [esp + 8]      # ip
  mov dword ptr [eax - 12], ecx
  mov ecx, dword ptr [esp + 4]      # eax
  mov dword ptr [eax - 16], ecx
  pop ecx
  lea esp, [eax - 16]
  pop eax
"""


def int3_entry_asm(kind: str) -> str:
    """``ENTRY(int3)``: orig_eax, SAVE_ALL, do_int3, then restore_all_kernel and iret."""
    full = kind == "full"
    return f"""int3:
  push -1                           # orig_eax: mark this as an int
  cld
  push 0                            # PUSH_GS (lazy gs)
{fixup_frame_asm() if full else ""}  .byte 0x0f, 0xa0                  # push fs
  .byte 0x06                        # push es
  .byte 0x1e                        # push ds
  push eax
  push ebp
  push edi
  push esi
  push edx
  push ecx
  push ebx
  xor edx, edx                      # zero error code
  mov eax, esp                      # pt_regs pointer
  call do_int3
int3_restore:
  pop ebx                           # RESTORE_REGS 4
  pop ecx
  pop edx
  pop esi
  pop edi
  pop ebp
  pop eax
  .byte 0x1f                        # pop ds
  .byte 0x07                        # pop es
  .byte 0x0f, 0xa1                  # pop fs
  add esp, 8                        # POP_GS (lazy gs), then orig_eax
{iret_frame_asm() if full else ""}int3_iret:
  iretd
"""


def do_int3_asm() -> str:
    """``do_int3`` -> the ftrace / text_poke int3 handler: decision from the modelled
    kernel, effect on the frame as ``int3_emulate_call`` (push regs->ip - 1 + 5 at
    regs->sp - 4, move regs->sp) and ``int3_emulate_jmp`` (regs->ip = target)."""
    return f"""do_int3:
  push ebx
  mov ebx, eax                      # regs
  mov eax, dword ptr [ebx + {L.PT_IP}]
  dec eax                           # ip = regs->ip - INT3_INSN_SIZE
  sub esp, 8
  int {INT3_DECIDE:#x}                          # [esp] = action, [esp + 4] = target
  pop eax
  pop edx
  cmp eax, {L.INT3_CALL}
  jne do_int3_jmp
  mov eax, dword ptr [ebx + {L.PT_IP}]
  add eax, 4                        # ip - INT3_INSN_SIZE + CALL_INSN_SIZE
  mov ecx, dword ptr [ebx + {L.PT_SP}]
  sub ecx, 4                        # int3_emulate_push: regs->sp -= sizeof(long)
  mov dword ptr [ebx + {L.PT_SP}], ecx
  mov dword ptr [ecx], eax          # *(unsigned long *)regs->sp = val
do_int3_jmp:
  mov dword ptr [ebx + {L.PT_IP}], edx   # int3_emulate_jmp: regs->ip = target
  mov eax, ebx
  int {INT3_DONE:#x}                          # the log's int3 line, with the frame
  pop ebx
  ret
"""


def entry_asm(kind: str) -> str:
    """The entry unit of an era (``short`` or ``full``, see :func:`entry_kind`)."""
    return int3_entry_asm(kind) + do_int3_asm()
