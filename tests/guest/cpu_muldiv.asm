; cpu_muldiv -- MUL, IMUL (one, two and three operands), DIV, IDIV at every operand size,
; register and memory operands, and CBW CWDE CDQE CWD CDQ CQO, at CPL3 in long mode, table
; driven (lib/oracle.inc): 26 x 26 operand values x input flag states; RDX:RAX, the six
; arithmetic flags (MUL/IMUL: SF ZF AF PF undefined; DIV/IDIV: all six undefined -- they
; must match the real CPU too) and faults fold into one hash per group. Divide errors (#DE:
; divisor 0, quotient too large, -2^(n-1) / -1) are raised at CPL3, caught by the CPL0 handler
; through the IDT, counted (faults=) and folded, and the driver resumes; the registers must be
; unchanged by a faulting divide. DIV/IDIV run with dividends whose high half is 0, a sign
; extension (CWD/CDQ/CQO), just below the divisor, and arbitrary (mostly #DE).
; Expected lines: from a run under -accel kvm on this host (kvm_pvm: CPL3 runs natively on
; the Intel CPU, so these are the hardware's answers); tcg must print the same.
; The expect-qemu lines: QEMU's TCG computes MUL/IMUL's undefined SF ZF AF PF (and SHR's AF)
; differently; its results are the hardware's (-DORACLE_NOFLAGS matches kvm exactly).
; boot: multiboot
; expect-exit: 33
; expect: mul: 332204B7
; expect-qemu: mul: 27F1EAE6
; expect: imul: E06F5AA4
; expect-qemu: imul: 754F460C
; expect: imul2: 99C08405
; expect-qemu: imul2: D57D33E8
; expect: imul3: B08CC362
; expect-qemu: imul3: 81863121
; expect: div: 68891680
; expect: idiv: AEEBE6A1
; expect: sign extension: 398957DF
; expect-qemu: sign extension: 4879EA01
; expect: cases=162656 faults=32606
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"
%include "oracle.inc"

bits 64

%macro MULOP 1
  %defstr MULOP_NAME %1
    ORACLE_GROUP MULOP_NAME
    ORACLE_B oracle_vals
    T {%1 bl}
    T {%1 ah}
    T {%1 bx}
    T {%1 ebx}
    T {%1 rbx}
    T {mov r10, rbx}, {%1 r10}
    T {mov [rbp], rbx}, {%1 byte [rbp]}
    T {mov [rbp], rbx}, {%1 word [rbp]}
    T {mov [rbp], rbx}, {%1 dword [rbp]}
    T {mov [rbp], rbx}, {%1 qword [rbp]}
    ORACLE_END_GROUP
%endmacro

; DIVOP op, extend: divides with four kinds of high half; extend is the sign extension
; (cwd/cdq/cqo) for IDIV or a zeroing for DIV.
%macro DIVOP 1
  %defstr DIVOP_NAME %1
    ORACLE_GROUP DIVOP_NAME
    ORACLE_B oracle_vals
    ORACLE_F oracle_flags2
    ; arbitrary high half (RDX from the driver)
    T {%1 bl}
    T {%1 bx}
    T {%1 ebx}
    T {%1 rbx}
    T {mov [rbp], rbx}, {%1 qword [rbp]}
    ; high half zero / sign extension
    T {movzx eax, ax}, {%1 bl}
    T {movsx ax, al}, {%1 bl}
    T {mov edx, 0}, {%1 bx}
    T {cwd}, {%1 bx}
    T {mov edx, 0}, {%1 ebx}
    T {cdq}, {%1 ebx}
    T {mov edx, 0}, {%1 rbx}
    T {cqo}, {%1 rbx}
    T {cqo}, {mov [rbp], rbx}, {%1 qword [rbp]}
    T {cdq}, {mov [rbp], rbx}, {%1 dword [rbp]}
    T {cwd}, {mov [rbp], rbx}, {%1 word [rbp]}
    T {movsx ax, al}, {mov [rbp], rbx}, {%1 byte [rbp]}
    T {mov r11, rbx}, {cqo}, {%1 r11}
    T {mov ah, 0}, {%1 bh}
    ; high half just below the divisor: the largest quotients
    T {lea rdx, [rbx - 1]}, {%1 rbx}
    T {lea edx, [ebx - 1]}, {%1 ebx}
    T {lea edx, [ebx - 1]}, {%1 bx}
    T {lea eax, [ebx - 1]}, {mov ah, al}, {mov al, cl}, {%1 bl}
    T {lea rdx, [rbx + 1]}, {%1 rbx}
    T {mov rdx, rbx}, {shr rdx, 1}, {%1 rbx}
    T {mov rdx, rbx}, {sar rdx, 1}, {%1 rbx}
    T {mov edx, ebx}, {sar edx, 1}, {%1 ebx}
    ORACLE_END_GROUP
    ORACLE_F oracle_flags
%endmacro

user_main:
    MULOP mul
    MULOP imul

    ORACLE_GROUP "imul2"
    ORACLE_B oracle_vals
    T {imul ax, bx}
    T {imul eax, ebx}
    T {imul rax, rbx}
    T {mov r9, rax}, {imul r9, rbx}, {mov rax, r9}
    T {mov [rbp], rbx}, {imul ax, [rbp]}
    T {mov [rbp], rbx}, {imul eax, [rbp]}
    T {mov [rbp], rbx}, {imul rax, [rbp]}
    T {imul rax, rax}
    ORACLE_END_GROUP

    ORACLE_GROUP "imul3"
    ORACLE_B oracle_one
  %assign i 0
  %rep 8
    %assign c (i == 0) ? 0 : (i == 1) ? 1 : (i == 2) ? -1 : (i == 3) ? 127 : (i == 4) ? -128 : (i == 5) ? 0x7fff : (i == 6) ? -0x12345 : 0x7fffffff
    T {imul ax, bx, c & 0xffff}
    T {imul eax, ebx, c}
    T {imul rax, rbx, c}
    T {imul edx, eax, c}
    T {mov [rbp], rax}, {imul rdx, [rbp], c}
    T {mov [rbp], rax}, {imul cx, [rbp], c & 0xffff}
    %assign i i + 1
  %endrep
    ORACLE_B oracle_vals
    T {imul ax, bx, 0x8000}
    T {imul eax, ebx, -0x80000000}
    T {imul rax, rbx, -0x80000000}
    ORACLE_END_GROUP

    DIVOP div
    DIVOP idiv

    ORACLE_GROUP "sign extension"
    ORACLE_B oracle_one
    T {cbw}
    T {cwde}
    T {cdqe}
    T {cwd}
    T {cdq}
    T {cqo}
    T {mov rdx, rax}, {cbw}
    T {shr rax, 32}, {cdq}
    ORACLE_END_GROUP
    ret

IMAGE_END
