; cpu_control -- control transfer at CPL3 in long mode, table driven (lib/oracle.inc):
; Jcc (short and near) for all 16 conditions over all 64 combinations of CF PF AF ZF SF OF;
; JRCXZ / JECXZ (a32); LOOP LOOPE LOOPNE with 64- and 32-bit counters (a32 LOOP ignores
; and clears RCX's top half) and ZF changing in the body; near CALL / RET / RET imm16 direct,
; through a register and through memory; JMP through a register, through memory and through a
; jump table indexed by the value; CALL and RET nesting (recursion). Values folded are
; path-dependent results and stack depths, never addresses (so the lines do not depend on
; the image layout).
; Expected lines: from a run under -accel kvm on this host (kvm_pvm: CPL3 runs natively on
; the Intel CPU, so these are the hardware's answers); tcg must print the same.
; boot: multiboot
; expect-exit: 33
; expect: far: AA184C41
; expect: jcc: DC861120
; expect: jrcxz/jecxz: B657330A
; expect: loop: 0CC63A3D
; expect: call/ret: D9A52609
; expect: enter/leave: 62EBE010
; expect: cases=4178 faults=0
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"
%include "oracle.inc"

bits 64

flags64:
    dq 64
%assign i 0
%rep 64
    dq 2 | (i & 1) | ((i & 2) << 1) | ((i & 4) << 2) | ((i & 8) << 3) | ((i & 16) << 3) | ((i & 32) << 6)
  %assign i i + 1
%endrep
loop_counts:                            ; counts safe for a 64-bit counter
    dq 6, 1, 2, 3, 4, 9, 100
loop_counts32:                          ; ECX counts with garbage above bit 31
    dq 5, 1, 0x100000003, 0xffffffff00000007, 0x80000000000000ff, 0x7fffffff00000001

%macro FOR_CC 1
  %1 o
  %1 no
  %1 b
  %1 ae
  %1 e
  %1 ne
  %1 be
  %1 a
  %1 s
  %1 ns
  %1 p
  %1 np
  %1 l
  %1 ge
  %1 le
  %1 g
%endmacro
; taken: RAX = 1; not taken: RAX = 2 (mov eax, imm32 is 5 bytes)
%macro JCC_SHORT 1
    T {mov eax, 1}, {j%1 short $ + 7}, {mov eax, 2}
%endmacro
%macro JCC_NEAR 1
    T {mov eax, 1}, {j%1 near $ + 11}, {mov eax, 2}
%endmacro
; a chain: two conditions in sequence, flags unchanged in between
%macro JCC_CHAIN 1
    T {mov eax, 0}, {j%1 short $ + 7}, {mov eax, 4}, {jno short $ + 5}, {add eax, 8}
%endmacro

; routines (called from stubs)
r_set7:
    mov edx, 7
    ret
r_ret16:                                ; RET imm16: drops two pushed qwords
    mov edx, 16
    ret 16
r_fact:                                 ; RAX = RBX! for RBX <= 20 (recursive CALL / RET)
    cmp rbx, 1
    jbe .one
    push rbx
    dec rbx
    call r_fact
    pop rbx
    imul rax, rbx
    ret
.one:
    mov eax, 1
    ret
; r_table: jumps through a table indexed by RAX & 7; each target sets RDX and returns.
r_table:
    and eax, 7
    jmp [jump_table + rax * 8]
r_table_reg:
    and eax, 7
    mov rdx, [jump_table + rax * 8]
    jmp rdx
align 8
jump_table:
    dq .t0, .t1, .t2, .t3, .t4, .t5, .t6, .t7
.t0: mov edx, 100
    ret
.t1: mov edx, 101
    ret
.t2: mov edx, 102
    ret
.t3: mov edx, 103
    ret
.t4: mov edx, 104
    ret
.t5: mov edx, 105
    ret
.t6: mov edx, 106
    ret
.t7: mov edx, 107
    ret

; far transfers within CPL3 (CS = SEL_UCODE64 | 3), 64- and 32-bit operand size
r_far:
    mov edx, 0xfa
    o64 retf
r_far8:
    mov edx, 0xfb
    o64 retf 8
r_far32:
    mov edx, 0xfc
    retf                                ; CB: 32-bit operand size, pops EIP and CS (4 bytes each)
r_farjmp64:                             ; far JMP m16:64 to r_farjmp_target, which returns near
    mov qword [rbp + 16], r_farjmp_target
    mov word [rbp + 24], SEL_UCODE64 | 3
    db 0x48, 0xff, 0x6d, 0x10           ; jmp far qword [rbp + 16] (REX.W FF /5, m16:64)
r_farjmp32:
    mov dword [rbp + 16], r_farjmp_target
    mov word [rbp + 20], SEL_UCODE64 | 3
    db 0xff, 0x6d, 0x10                 ; jmp far dword [rbp + 16] (FF /5, m16:32)
r_farjmp_target:
    mov edx, 0xfd
    ret

; ENTER / LEAVE on a stack at a fixed address (ORACLE_BUF + 0x9000), RBP = a frame chain at
; fixed addresses, so frame pointers and the stack memory (folded) are layout independent.
FIXED_STACK  equ ORACLE_BUF + 0x9000
STACK_WINDOW equ 0x200
stack_pre:
    mov r8, FIXED_STACK - STACK_WINDOW
    mov r9, 0x0706050403020100
.fill:
    mov [r8], r9
    add r9, r9
    add r9, 0x11
    add r8, 8
    cmp r8, FIXED_STACK + 0x40
    jb .fill
    ret
stack_post:
    mov r10, FIXED_STACK - STACK_WINDOW
.fold:
    mov r11, [r10]
    FOLD r11
    add r10, 8
    cmp r10, FIXED_STACK + 0x40
    jb .fold
    ret
%macro ENTER64 2
    T {mov r9, rsp}, {mov rsp, FIXED_STACK}, {mov rbp, FIXED_STACK - 0x40}, {enter %1, %2}, {mov rcx, rbp}, {mov rdx, rsp}, {leave}, {mov rbx, rsp}, {mov rsp, r9}
%endmacro
%macro ENTER16 2
    T {mov r9, rsp}, {mov rsp, FIXED_STACK}, {mov rbp, FIXED_STACK - 0x40}, {o16 enter %1, %2}, {mov rcx, rbp}, {mov rdx, rsp}, {o16 leave}, {mov rbx, rsp}, {mov rsp, r9}
%endmacro

user_main:
    ORACLE_GROUP "far"
    ORACLE_A oracle_one
    ORACLE_B oracle_one
    ORACLE_F oracle_flags2
    T {mov rsi, rsp}, {mov qword [rbp], r_far}, {mov word [rbp + 8], SEL_UCODE64 | 3}, {db 0x48, 0xff, 0x5d, 0x00}, {sub rsi, rsp}
    T {mov rsi, rsp}, {mov dword [rbp], r_far32}, {mov word [rbp + 4], SEL_UCODE64 | 3}, {db 0xff, 0x5d, 0x00}, {sub rsi, rsp}
    T {mov rsi, rsp}, {push rax}, {mov qword [rbp], r_far8}, {mov word [rbp + 8], SEL_UCODE64 | 3}, {db 0x48, 0xff, 0x5d, 0x00}, {sub rsi, rsp}
    T {mov rsi, rsp}, {call r_farjmp64}, {sub rsi, rsp}
    T {mov rsi, rsp}, {call r_farjmp32}, {sub rsi, rsp}
    ORACLE_END_GROUP

    ORACLE_GROUP "jcc"
    ORACLE_A oracle_one
    ORACLE_B oracle_one
    ORACLE_F flags64
    FOR_CC JCC_SHORT
    FOR_CC JCC_NEAR
    FOR_CC JCC_CHAIN
    ORACLE_END_GROUP

    ORACLE_GROUP "jrcxz/jecxz"
    ORACLE_B oracle_vals
    ORACLE_F oracle_flags
    T {mov eax, 1}, {jrcxz $ + 7}, {mov eax, 2}
    T {mov eax, 1}, {jecxz $ + 8}, {mov eax, 2}
    ORACLE_END_GROUP

    ORACLE_GROUP "loop"
    ORACLE_A oracle_one
    ORACLE_F oracle_flags
    ORACLE_B loop_counts
    T {mov edx, 0}, {lea rdx, [rdx + 1]}, {loop $ - 4}
    T {mov edx, 0}, {lea rdx, [rdx + 1]}, {loope $ - 4}
    T {mov edx, 0}, {lea rdx, [rdx + 1]}, {loopne $ - 4}
    T {mov edx, 0}, {inc edx}, {cmp edx, 3}, {loopne $ - 5}
    T {mov edx, 0}, {inc edx}, {cmp edx, 3}, {loope $ - 5}
    T {mov edx, 5}, {dec edx}, {loopne $ - 2}
    ORACLE_B loop_counts32
    T {mov edx, 0}, {lea rdx, [rdx + 1]}, {a32 loop $ - 4}
    T {mov edx, 0}, {inc edx}, {cmp edx, 3}, {a32 loopne $ - 5}
    T {mov edx, 0}, {lea rdx, [rdx + 1]}, {a32 loope $ - 4}
    ORACLE_END_GROUP

    ORACLE_GROUP "call/ret"
    ORACLE_A oracle_vals
    ORACLE_B oracle_one
    ORACLE_F oracle_flags2
    T {mov rsi, rsp}, {call r_set7}, {sub rsi, rsp}
    T {mov rsi, rsp}, {push rax}, {push rbx}, {call r_ret16}, {sub rsi, rsp}
    T {mov rsi, rsp}, {mov rcx, r_set7}, {call rcx}, {mov ecx, 0}, {sub rsi, rsp}
    T {mov rsi, rsp}, {mov qword [rbp], r_set7}, {call [rbp]}, {sub rsi, rsp}
    T {mov rsi, rsp}, {mov r9, r_ret16}, {push rax}, {push rax}, {call r9}, {sub rsi, rsp}
    T {call r_table}
    T {call r_table_reg}
    T {mov rbx, rax}, {and ebx, 15}, {call r_fact}
    T {mov rsi, rsp}, {push qword 0}, {pushfq}, {lea rsp, [rsp + 16]}, {sub rsi, rsp}
    ORACLE_END_GROUP

    ORACLE_GROUP "enter/leave"
    ORACLE_A oracle_vals_small
    ORACLE_HOOKS stack_pre, stack_post
    ENTER64 0, 0
    ENTER64 16, 1
    ENTER64 8, 2
    ENTER64 0x123, 3
    ENTER64 0x20, 4
    ENTER64 4, 31
    ENTER64 24, 33
    ENTER16 6, 0
    ENTER16 6, 3
    ORACLE_HOOKS 0, 0
    ORACLE_END_GROUP
    ret

IMAGE_END
