; cpu_alu -- ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG NOT at CPL3 in long mode, table
; driven (lib/oracle.inc): every stub runs over 26 operand values x 26 values (or one, for
; immediate forms) x 4 input flag states, and the results, RFLAGS' six arithmetic bits and
; the memory written fold into one hash per instruction. Forms: 8-bit (low and high byte
; registers, REX byte registers), 16, 32 and 64-bit register/register, register/memory,
; memory/register, LOCK memory/register, accumulator/immediate, register/imm8 and /imm, memory/
; immediate; ADD/ADC and SUB/SBB chains for multi-word arithmetic.
; Expected lines: from a run under -accel kvm on this host (kvm_pvm: CPL3 runs natively on
; the Intel CPU, so these are the hardware's answers); tcg and QEMU must print the same.
; boot: multiboot
; expect-exit: 33
; expect: add: 86A9FC0C
; expect: adc: 5D22BFDE
; expect: sub: DC4BE45B
; expect: sbb: 05A97B92
; expect: and: 07F8DA86
; expect: or: 6AE0F81A
; expect: xor: 037C3274
; expect: cmp: C83BF8BC
; expect: test: 619CBBD4
; expect: inc: 64B2050B
; expect: dec: 3568C632
; expect: neg: 513DF4A1
; expect: not: 35D0A7C9
; expect: chains: DD59C8F6
; expect: cases=518856 faults=0
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"
%include "oracle.inc"

bits 64

; BINOP op: the forms of a two-operand ALU instruction that writes its destination.
%macro BINOP 1
  %defstr BINOP_NAME %1
    ORACLE_GROUP BINOP_NAME
    ORACLE_B oracle_vals
    T {%1 al, bl}
    T {%1 ah, bl}
    T {%1 al, bh}
    T {%1 ch, ah}
    T {%1 sil, dl}
    T {mov r10, rax}, {%1 r10b, bl}, {mov rax, r10}
    T {%1 ax, bx}
    T {%1 eax, ebx}
    T {%1 rax, rbx}
    T {mov r9, rax}, {mov r13, rbx}, {%1 r9, r13}, {mov rax, r9}
    T {mov r11, rbx}, {%1 r11d, eax}, {mov rbx, r11}
    T {mov [rbp], rbx}, {%1 al, [rbp]}
    T {mov [rbp], rbx}, {%1 ax, [rbp]}
    T {mov [rbp], rbx}, {%1 eax, [rbp]}
    T {mov [rbp], rbx}, {%1 rax, [rbp]}
    T {mov [rbp + 3], rax}, {%1 [rbp + 3], bl}, {mov rax, [rbp + 3]}
    T {mov [rbp], rax}, {%1 [rbp], bx}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 [rbp], ebx}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 [rbp], rbx}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {lock %1 [rbp], bl}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {lock %1 [rbp], ebx}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {lock %1 [rbp], rbx}, {mov rax, [rbp]}
    ORACLE_B oracle_one
    T {%1 al, 0x5a}
    T {%1 al, 0x80}
    T {%1 ah, 0xff}
    T {%1 ax, 0x7ffe}
    T {%1 ax, -2}
    T {%1 eax, 0x12345678}
    T {%1 eax, -0x80}
    T {%1 rax, -0x789abcdf}
    T {%1 rax, 0x7f}
    T {%1 rdx, 0x7fffffff}
    T {%1 dx, 0x8001}
    T {%1 edx, 1}
    T {%1 dl, 1}
    T {mov [rbp], rax}, {%1 byte [rbp], 0xc3}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 word [rbp], 0x8000}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 word [rbp], 3}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 dword [rbp], 0x80000000}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 qword [rbp], -1}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {lock %1 qword [rbp], 0x40000001}, {mov rax, [rbp]}
    ORACLE_END_GROUP
%endmacro

; FLAGOP op: CMP and TEST forms (no destination written).
%macro FLAGOP 1
  %defstr FLAGOP_NAME %1
    ORACLE_GROUP FLAGOP_NAME
    ORACLE_B oracle_vals
    T {%1 al, bl}
    T {%1 ah, bl}
    T {%1 dh, ch}
    T {%1 ax, bx}
    T {%1 eax, ebx}
    T {%1 rax, rbx}
    T {mov r12, rax}, {%1 r12, rbx}
    T {mov [rbp], rbx}, {%1 [rbp], al}
    T {mov [rbp], rbx}, {%1 [rbp], ax}
    T {mov [rbp], rbx}, {%1 [rbp], eax}
    T {mov [rbp], rbx}, {%1 [rbp], rax}
    ORACLE_B oracle_one
    T {%1 al, 0x80}
    T {%1 bl, 0x7f}
    T {%1 ax, 0x8000}
    T {%1 dx, 0x00ff}
    T {%1 eax, 0x80000001}
    T {%1 rax, -1}
    T {%1 rdx, 0x7fffffff}
    T {mov [rbp], rax}, {%1 byte [rbp], 0x01}
    T {mov [rbp], rax}, {%1 dword [rbp], 0xffff}
    T {mov [rbp], rax}, {%1 qword [rbp], -0x80000000}
    ORACLE_END_GROUP
%endmacro

; UNOP op: the forms of a one-operand instruction.
%macro UNOP 1
  %defstr UNOP_NAME %1
    ORACLE_GROUP UNOP_NAME
    ORACLE_B oracle_one
    T {%1 al}
    T {%1 ah}
    T {%1 bl}
    T {%1 dil}
    T {%1 ax}
    T {%1 eax}
    T {%1 rax}
    T {mov r14, rax}, {%1 r14}, {mov rax, r14}
    T {mov [rbp], rax}, {%1 byte [rbp]}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 word [rbp]}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 dword [rbp]}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 qword [rbp]}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {lock %1 dword [rbp]}, {mov rax, [rbp]}
    ORACLE_END_GROUP
%endmacro

user_main:
    BINOP add
    BINOP adc
    BINOP sub
    BINOP sbb
    BINOP and
    BINOP or
    BINOP xor
    FLAGOP cmp
    FLAGOP test
    UNOP inc
    UNOP dec
    UNOP neg
    UNOP not

    ; multi-word chains: flags flow from one instruction into the next
    ORACLE_GROUP "chains"
    ORACLE_B oracle_vals
    T {add rax, rbx}, {adc rdx, rcx}
    T {sub rax, rbx}, {sbb rdx, rcx}
    T {add al, bl}, {adc ah, bh}, {adc dx, cx}
    T {sub eax, ebx}, {sbb edx, 0}, {sbb ecx, 0x12345}
    T {neg rax}, {sbb rbx, rbx}
    T {cmp eax, ebx}, {adc edx, -1}
    T {inc rax}, {adc rbx, 0}
    T {dec al}, {sbb bl, 0}
    ORACLE_END_GROUP
    ret

IMAGE_END
