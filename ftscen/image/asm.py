"""i386 assembly (Intel syntax, for Keystone) of the modelled kernel's text.

The trampolines follow arch/x86/kernel/ftrace_32.S (non-frame-pointer build): ``ftrace_caller``
passes a NULL regs pointer; ``ftrace_regs_caller`` builds the short pt_regs of kernels up to
5.2 (flags in the return slot, regs->sp ignored) or the full pt_regs of 3c88c692c287 from
5.3 on (docs/model.md, "The i386 image"). Segment pushes and pops are spelled as bytes
because Keystone encodes ``push es`` with an operand-size prefix (a 2-byte push), which would
corrupt the frame.

Labels: ``F_<func>`` bodies, ``H_<ops>`` handlers, ``T_<ops>`` per-ops trampolines,
``C_<cpu>`` caller stubs; the image maps them to the names users see.
"""

from __future__ import annotations

from ftscen.image import layout as L

PUSH_SEGS = "  .byte 0x0f, 0xa8\n  .byte 0x0f, 0xa0\n  .byte 0x06\n  .byte 0x1e\n"  # gs fs es ds
POP_SEGS = "  .byte 0x1f\n  .byte 0x07\n  .byte 0x0f, 0xa1\n  .byte 0x0f, 0xa9\n"  # ds es fs gs
NOP5 = "  .byte 0x3e, 0x8d, 0x74, 0x26, 0x00   # 3e 8d 74 26 00  nop5 (i386 ideal nop)\n"


def _mask(*flags: str) -> int:
    return sum(1 << L.OPS_FL_BITS[f] for f in flags)


def caller_asm(label: str, call_label: str, op_load: str, tail: str) -> str:
    """``ftrace_caller``: regs = NULL; eax = ip, edx = parent ip, ecx = op."""
    return f"""{label}:
  push eax
  push ecx
  push edx
  push 0                            # pass NULL as regs pointer
  lea edx, [esp + 16]
  mov eax, dword ptr [esp + 16]     # return address = site + 5
  mov edx, dword ptr [edx + 4]      # parent ip
  mov ecx, {op_load}
  sub eax, 5                        # MCOUNT_INSN_SIZE
{call_label}:
  call {L.RUNTIME_BASE:#x}             # patched at run time (starts as ftrace_stub)
  add esp, 4                        # skip NULL pointer
  pop edx
  pop ecx
  pop eax
{tail}"""


def regs_caller_short_asm(label: str, call_label: str, op_load: str, tail: str) -> str:
    """``ftrace_regs_caller`` up to 5.2: short pt_regs; flags restored, regs->ip honoured,
    regs->sp ignored (the return slot holds flags while the handler runs)."""
    return f"""{label}:
  push {L.KERNEL_CS:#x}                        # __KERNEL_CS
  push dword ptr [esp + 4]          # regs->ip = site + 5
  push 0                            # orig_ax
{PUSH_SEGS}  push eax
  pushfd
  pop eax
  mov dword ptr [esp + 32], eax     # flags into the original return slot
  push ebp
  push edi
  push esi
  push edx
  push ecx
  push ebx
  mov eax, dword ptr [esp + 48]     # regs->ip
  sub eax, 5
  mov edx, dword ptr [esp + 60]     # parent ip
  mov ecx, {op_load}
  push esp                          # 4th argument: pt_regs
{call_label}:
  call {L.RUNTIME_BASE:#x}
  add esp, 4
  push dword ptr [esp + 56]         # restore flags
  popfd
  mov eax, dword ptr [esp + 48]     # regs->ip (a handler may have changed it) ...
  mov dword ptr [esp + 56], eax     # ... becomes the return address
  pop ebx
  pop ecx
  pop edx
  pop esi
  pop edi
  pop ebp
  pop eax
{POP_SEGS}  lea esp, [esp + 12]               # skip orig_ax, ip, cs
{tail}"""


def regs_caller_full_asm(label: str, call_label: str, op_load: str, tail: str) -> str:
    """``ftrace_regs_caller`` from 5.3: full pt_regs in an emulated-int3 frame; returns to
    regs->ip with esp = regs->sp ("We do _NOT_ restore: ss, flags, cs, gs, fs, es, ds")."""
    return f"""{label}:
  sub esp, 12                       # RET-IP + 3 gaps
  .byte 0x16                        # push ss
  push esp
  add dword ptr [esp], 20           # regs->sp = <previous context>
  pushfd
  push {L.KERNEL_CS:#x}                        # cs
  push dword ptr [esp + 28]         # regs->ip <- RET-IP
  push 0                            # orig_ax
{PUSH_SEGS}  push eax
  push ebp
  push edi
  push esi
  push edx
  push ecx
  push ebx
  mov eax, dword ptr [esp + 48]     # PT_EIP
  sub eax, 5
  mov edx, dword ptr [esp + 84]     # 21*4: parent ip
  mov ecx, {op_load}
  push esp                          # 4th argument: pt_regs
{call_label}:
  call {L.RUNTIME_BASE:#x}
  add esp, 4
  mov eax, dword ptr [esp + 60]     # PT_OLDESP
  mov ecx, dword ptr [esp + 48]     # PT_EIP: place ip below the new sp
  mov dword ptr [eax - 4], ecx
  mov ecx, dword ptr [esp + 24]     # PT_EAX below that
  mov dword ptr [eax - 8], ecx
  pop ebx
  pop ecx
  pop edx
  pop esi
  pop edi
  pop ebp
  lea esp, [eax - 8]
  pop eax
{tail}"""


def _recursion_enter(tag: str, transition: bool) -> str:
    """trace_test_and_set_recursion(TRACE_LIST_START, ...) for the normal context; pushes the
    bit taken so the exit path can clear it (kernel/trace/trace.h, v5.10 form)."""
    lst, trans = 1 << L.TRACE_LIST_BIT, 1 << L.TRACE_TRANSITION_BIT
    if transition:
        recursed = f"""  test ecx, {trans:#x}
  jnz {tag}_out                     # already in transition: recursion, call nothing
  or dword ptr [eax], {trans:#x}
  push {trans:#x}
  jmp {tag}_go
"""
        take = f"  and ecx, {~trans & 0xFFFFFFFF:#x}\n"
    else:
        recursed, take = f"  jmp {tag}_out\n", ""
    return f"""  mov eax, dword ptr [{L.CURRENT_TASK:#x}]
  mov ecx, dword ptr [eax]          # current->trace_recursion
  test ecx, {lst:#x}
  jz {tag}_take
{recursed}{tag}_take:
{take}  or ecx, {lst:#x}
  mov dword ptr [eax], ecx
  push {lst:#x}
{tag}_go:
"""


def _recursion_exit(tag: str) -> str:
    return f"""  pop ecx                           # trace_clear_recursion(bit)
  not ecx
  mov eax, dword ptr [{L.CURRENT_TASK:#x}]
  and dword ptr [eax], ecx
{tag}_out:
"""


def _hash_test(field: int, if_empty: str, skip_if: str, why: str) -> str:
    """One half of ``hash_contains_ip``: an empty hash jumps to ``if_empty``; otherwise look
    the ip up and skip this ops when ``skip_if`` (jz: not found, jnz: found) holds."""
    return f"""  mov eax, dword ptr [esi + {field}]
  cmp dword ptr [eax], 0
  je {if_empty}                     # {why}
  mov edx, ebx
  call ftrace_lookup_ip
  test eax, eax
  {skip_if} L_list_next
"""


def list_func_asm(transition: bool) -> str:
    """``ftrace_ops_list_func`` (kernel/trace/ftrace.c ``__ftrace_ops_list_func``): walk
    ftrace_ops_list newest first, skip STUB ops, call ``op->func`` when ``ftrace_ops_test``
    passes: SAVE_REGS ops need regs (R8), then the filter/notrace hash test (R1)."""
    stub, regs = _mask("STUB"), _mask("SAVE_REGS")
    return f"""ftrace_ops_list_func:
  push ebp
  mov ebp, esp
  push ebx
  push esi
  push edi
  mov ebx, eax                      # ip
  mov edi, edx                      # parent_ip
{_recursion_enter("L_list", transition)}  mov esi, dword ptr [{L.FTRACE_OPS_LIST:#x}]
L_list_loop:
  cmp esi, {L.FTRACE_LIST_END:#x}
  je L_list_done
  mov eax, dword ptr [esi + {L.OPS_FLAGS}]
  test eax, {stub:#x}
  jnz L_list_next                   # STUB ops are never called
  cmp dword ptr [ebp + 8], 0
  jne L_list_hash
  test eax, {regs:#x}
  jnz L_list_next                   # SAVE_REGS ops reached without regs: skipped
L_list_hash:
{_hash_test(L.OPS_FILTER, "L_list_notrace", "jz", "empty filter hash: every function")}L_list_notrace:
{_hash_test(L.OPS_NOTRACE, "L_list_call", "jnz", "empty notrace hash: nothing excluded")}L_list_call:
  push dword ptr [ebp + 8]
  mov eax, ebx
  mov edx, edi
  mov ecx, esi
  call dword ptr [esi + {L.OPS_FUNC}]
  add esp, 4
L_list_next:
  mov esi, dword ptr [esi + {L.OPS_NEXT}]
  jmp L_list_loop
L_list_done:
{_recursion_exit("L_list")}  pop edi
  pop esi
  pop ebx
  pop ebp
  ret
"""


def assist_func_asm(transition: bool) -> str:
    """``ftrace_ops_assist_func``: recursion guard around one ``op->func`` (ftrace.c)."""
    return f"""ftrace_ops_assist_func:
  push ebp
  mov ebp, esp
  push ebx
  push esi
  push edi
  mov ebx, eax
  mov edi, edx
  mov esi, ecx
{_recursion_enter("L_asst", transition)}  push dword ptr [ebp + 8]
  mov eax, ebx
  mov edx, edi
  mov ecx, esi
  call dword ptr [esi + {L.OPS_FUNC}]
  add esp, 4
{_recursion_exit("L_asst")}  pop edi
  pop esi
  pop ebx
  pop ebp
  ret
"""


LOOKUP_ASM = """ftrace_lookup_ip:                   # eax = hash {count, ips...}, edx = ip -> eax = 1/0
  mov ecx, dword ptr [eax]
  add eax, 4
L_lk_loop:
  test ecx, ecx
  jz L_lk_no
  cmp dword ptr [eax], edx
  je L_lk_yes
  add eax, 4
  dec ecx
  jmp L_lk_loop
L_lk_yes:
  mov eax, 1
  ret
L_lk_no:
  xor eax, eax
  ret
"""


def runtime_asm(frame: str, transition: bool) -> str:
    """The shared runtime: both trampolines, ftrace_stub, the list and assist functions."""
    op = f"dword ptr [{L.FUNCTION_TRACE_OP:#x}]"
    ret_tail = "  jmp ftrace_graph_call\n"
    regs = regs_caller_full_asm if frame == "full" else regs_caller_short_asm
    return (
        caller_asm("ftrace_caller", "ftrace_call", op, "")
        + "ftrace_graph_call:\n"
        + "  .byte 0xe9, 0, 0, 0, 0           # e9 00 00 00 00  jmp ftrace_stub\n"
        + "ftrace_stub:\n  ret\n"
        + regs("ftrace_regs_caller", "ftrace_regs_call", op, ret_tail)
        + list_func_asm(transition)
        + assist_func_asm(transition)
        + LOOKUP_ASM
    )


def trampoline_asm(label: str, regs: bool, frame: str) -> str:
    """A per-ops trampoline: a copy of (regs_)caller that loads its ops from the word after
    its code and ends in ``ret`` (arch/x86/kernel/ftrace.c ``create_trampoline``, x86_64)."""
    op = f"dword ptr [{label}_op]"
    gen = (
        caller_asm
        if not regs
        else (regs_caller_full_asm if frame == "full" else regs_caller_short_asm)
    )
    return gen(label, f"{label}_call", op, "  ret\n") + f"{label}_op:\n  .long 0\n"


#: Labels around the code that writes one event record into the ring (from the load of
#: ``RING_PTR`` to just after its increment): ``L_<label>_rec`` .. ``L_<label>_rec_end``.
#: That code is the model's instrumentation, not the kernel's; a call must not stop inside
#: it (:func:`ftscen.image.build.record_spans`).
RECORD_START, RECORD_END = "_rec", "_rec_end"


def record_start(label: str) -> str:
    return f"L_{label}{RECORD_START}:\n"


def record_end(label: str) -> str:
    return f"L_{label}{RECORD_END}:\n"


def body_asm(label: str, index: int, traceable: bool, callees: list[str]) -> str:
    """A function: the 5-byte site, an ``EV_RAN`` event, its callees in order, ``ret``."""
    calls = "".join(f"  call {c}\n" for c in callees)
    return f"""{label}:
{NOP5 if traceable else ""}{record_start(label)}  mov eax, dword ptr [{L.RING_PTR:#x}]
  mov dword ptr [eax], {L.EV_RAN}
  mov dword ptr [eax + 4], {index}
  add dword ptr [{L.RING_PTR:#x}], {L.EVENT_SIZE}
{record_end(label)}{calls}  ret
"""


def handler_asm(
    label: str, index: int, redirects: list[tuple[str, str]], callees: list[str]
) -> str:
    """An ops callback with the i386 ABI (eax = ip, edx = parent_ip, ecx = op, regs on the
    stack): records ``EV_CALLBACK``, then ``regs->ip = new`` for a redirected ip (as
    ``klp_ftrace_handler`` does through klp_arch_set_pc), then its calls."""
    out = [
        f"""{label}:
  push ebx
  push esi
{record_start(label)}  mov esi, dword ptr [{L.RING_PTR:#x}]
  mov dword ptr [esi], {L.EV_CALLBACK}
  mov dword ptr [esi + 4], {index}
  mov dword ptr [esi + 8], eax
  mov dword ptr [esi + 12], edx
  mov ebx, dword ptr [esp + 12]     # regs
  mov dword ptr [esi + 16], ebx
  mov dword ptr [esi + 20], ecx     # the op this callback was given
  add dword ptr [{L.RING_PTR:#x}], {L.EVENT_SIZE}
{record_end(label)}"""
    ]
    for i, (old, new) in enumerate(redirects):
        out.append(f"""  cmp eax, {old}
  jne L_{label}_r{i}
  mov dword ptr [ebx + {L.PT_IP}], {new}    # regs->ip = new function
L_{label}_r{i}:
""")
    out.extend(f"  call {c}\n" for c in callees)
    out.append("  pop esi\n  pop ebx\n  ret\n")
    return "".join(out)


def caller_stub_asm(label: str) -> str:
    """A CPU's caller: ``call FUNC`` (rewritten per call), then the stop address."""
    return f"{label}:\n  .byte 0xe8, 0, 0, 0, 0\n  .byte 0x0f, 0x0b                  # ud2: never reached, the run stops here\n"


def klp_handler_asm(label: str) -> str:
    """``klp_ftrace_handler`` (kernel/livepatch/patch.c), shared by every ``klp_ops``: records
    ``EV_CALLBACK`` as every handler does (the ops index read from the op it was given), then
    takes the top of ``ops->func_stack``; while ``func->transition`` is set, a task still
    ``KLP_UNPATCHED`` takes the next-older func, or leaves regs->ip alone when there is none
    (the original runs); a ``nop`` func leaves it alone too; otherwise ``klp_arch_set_pc(regs,
    func->new_func)``. The func_stack is a NULL-terminated list here (the kernel's is a
    circular ``list_head``); the ``WARN_ON_ONCE`` checks only warn and are left out. From 5.11
    the handler gets ``ftrace_regs`` and takes its own recursion lock
    (``ftrace_test_recursion_trylock``): on i386 the regs are still a pt_regs, and the lock
    never fails here, since the handler calls nothing."""
    unpatched, stack = L.KLP_UNPATCHED, L.OPS_KLP_STACK
    return f"""{label}:
  push ebx
  push esi
{record_start(label)}  mov esi, dword ptr [{L.RING_PTR:#x}]
  mov dword ptr [esi], {L.EV_CALLBACK}
  mov ebx, dword ptr [ecx + {L.OPS_INDEX}]
  mov dword ptr [esi + 4], ebx
  mov dword ptr [esi + 8], eax
  mov dword ptr [esi + 12], edx
  mov ebx, dword ptr [esp + 12]     # regs
  mov dword ptr [esi + 16], ebx
  mov dword ptr [esi + 20], ecx
  add dword ptr [{L.RING_PTR:#x}], {L.EVENT_SIZE}
{record_end(label)}  mov esi, dword ptr [ecx + {stack}]    # func = list_first_or_null_rcu(&ops->func_stack)
  test esi, esi
  jz L_klp_out                      # WARN_ON_ONCE(!func)
  cmp dword ptr [esi + {L.KLP_TRANSITION}], 0
  je L_klp_func                     # func->transition clear: the top func
  mov eax, dword ptr [{L.CURRENT_TASK:#x}]
  cmp dword ptr [eax + {L.TASK_PATCH_STATE}], {unpatched}
  jne L_klp_func                    # current->patch_state != KLP_UNPATCHED
  mov esi, dword ptr [esi + {L.KLP_NEXT}]    # the previously patched version ...
  test esi, esi
  jz L_klp_out                      # ... or none: the original function
L_klp_func:
  cmp dword ptr [esi + {L.KLP_NOP}], 0
  jne L_klp_out                     # func->nop: do nothing
  mov eax, dword ptr [esi + {L.KLP_NEW_FUNC}]
  mov dword ptr [ebx + {L.PT_IP}], eax    # klp_arch_set_pc(regs, func->new_func)
L_klp_out:
  pop esi
  pop ebx
  ret
"""
