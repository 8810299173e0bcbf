; cpu_bcd_compat -- instructions that 64-bit mode lacks, run in a 32-bit compatibility-mode
; code segment at CPL3 (a DPL 3 code descriptor with L = 0, D = 1 added to a copy of the
; GDT; 64-bit stubs reach it by far CALL m16:32 and it returns with a 32-bit RETF), table
; driven (lib/oracle.inc): DAA DAS AAA AAS over all AL values with AH varied and all 64
; combinations of CF PF AF ZF SF OF (the undefined flags included), AAM / AAD with bases 10,
; 16, 7, 0 (AAM 0: #DE raised in compatibility mode, caught at CPL0, counted), PUSHAD/POPAD
; and PUSHAW/POPAW (the ESP slot pushed and skipped), ENTER with nesting levels 0-4 and 31
; (32-bit, 16-bit O16 and 64-bit forms) and LEAVE, run on a stack at a fixed address so that
; the frame pointers and the stack memory (folded) do not depend on the image layout; plus
; #UD for DAA in 64-bit mode. Registers are zero-extended after the return from compatibility
; mode (their top halves are undefined there).
; Flags the SDM leaves undefined are masked out (DAA/DAS: OF; AAA/AAS: all but CF AF;
; AAM/AAD: OF AF CF): there is no hardware reference here (see below).
; Expected lines: tcg and QEMU's TCG agree on every line; no hardware run backs them. Under
; this host's kvm_pvm, CPL3 code in a compatibility-mode segment does not run natively: it is
; executed by the host kernel's instruction emulator (found by this test): DAA, AAA, AAS and
; ENTER with a nesting level > 0 raise #UD there, and AAM sets ZF from AX instead of AL (AAM 10
; of AX=0x240A gives AX=0x0100 with ZF=0); DAS, AAD, PUSHA/POPA and ENTER level 0 match.
; kvm-host-limit: compatibility-mode code at CPL3 runs in the host's instruction emulator, not natively
; boot: multiboot
; expect-exit: 33
; expect: daa/das: E8B83CDD
; expect: aaa/aas: BA3DA65A
; expect: aam/aad: 9D9CBD1E
; expect: pusha/popa: 584DCB5F
; expect: enter/leave: 47B2410B
; expect: #UD in 64-bit mode: EDBA87CA
; expect: cases=73346 faults=54
; expect: PASS
%define ORACLE_CPL0_SETUP compat_gdt
%include "multiboot.inc"
%include "long_mode.inc"
%include "oracle.inc"

bits 64

SEL_UCODE32    equ gdt_end - gdt        ; the added descriptor, just past the boot GDT
USER_CS32      equ SEL_UCODE32 | 3
FIXED_STACK    equ ORACLE_BUF + 0x9000  ; ESP for stack tests (fixed address)
STACK_WINDOW   equ 0x200

; compat_gdt (CPL0): copy the GDT (with its TSS descriptor) and add a 32-bit DPL 3 code segment.
compat_gdt:
    mov rsi, gdt
    mov rdi, big_gdt
    mov ecx, gdt_end - gdt
.copy:
    mov al, [rsi]
    mov [rdi], al
    inc rsi
    inc rdi
    dec ecx
    jnz .copy
    mov rax, 0x00cffb000000ffff         ; code, 32-bit (D = 1, L = 0), DPL 3, accessed
    mov [rdi], rax
    mov word [big_gdt_desc], gdt_end - gdt + 8 - 1
    mov rax, big_gdt
    mov [big_gdt_desc + 2], rax
    lgdt [big_gdt_desc]
    ret

; COMPAT routine: a stub that far-calls a 32-bit routine and zero-extends what it folds.
%macro COMPAT 1
    T {mov dword [rbp + 0x100], %1}, {mov word [rbp + 0x104], USER_CS32}, {db 0xff, 0x9d, 0x00, 0x01, 0x00, 0x00}, {mov eax, eax}, {mov ebx, ebx}, {mov ecx, ecx}, {mov edx, edx}, {mov esi, esi}, {mov edi, edi}
%endmacro

flags64:
    dq 64
%assign i 0
%rep 64
    dq 2 | (i & 1) | ((i & 2) << 1) | ((i & 4) << 2) | ((i & 8) << 3) | ((i & 16) << 3) | ((i & 32) << 6)
  %assign i i + 1
%endrep
; all AL values, AH = an LCG byte
al_values:
    dq 256
%assign i 0
%assign h 0x5a
%rep 256
    dq i | (h << 8)
  %assign h (h * 29 + 71) & 0xff
  %assign i i + 1
%endrep

; stack pre-hook: a pattern in the fixed-stack window; post-hook: fold it.
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


user_main:
    ORACLE_GROUP "daa/das"
    ORACLE_A al_values
    ORACLE_B oracle_one
    ORACLE_F flags64
    ORACLE_FMASK 0xd5                   ; OF undefined
    COMPAT c_daa
    COMPAT c_das
    ORACLE_END_GROUP

    ORACLE_GROUP "aaa/aas"
    ORACLE_FMASK 0x11                   ; only CF and AF defined
    COMPAT c_aaa
    COMPAT c_aas
    ORACLE_END_GROUP

    ORACLE_GROUP "aam/aad"
    ORACLE_FMASK 0xc4                   ; SF ZF PF defined, OF AF CF undefined
    ORACLE_F oracle_flags
    COMPAT c_aam10
    COMPAT c_aam16
    COMPAT c_aam7
    COMPAT c_aad10
    COMPAT c_aad16
    COMPAT c_aad7
    COMPAT c_aad0
    ORACLE_A oracle_vals_small
    COMPAT c_aam0
    ORACLE_END_GROUP

    ORACLE_FMASK ORACLE_ARITH
    ORACLE_GROUP "pusha/popa"
    ORACLE_A oracle_vals_small
    ORACLE_B oracle_vals_small
    ORACLE_F oracle_flags2
    ORACLE_HOOKS stack_pre, stack_post
    COMPAT c_pushad
    COMPAT c_pushaw
    ORACLE_END_GROUP

    ORACLE_GROUP "enter/leave"
    ORACLE_A oracle_one
    ORACLE_B oracle_one
    COMPAT c_enter0
    COMPAT c_enter1
    COMPAT c_enter2
    COMPAT c_enter4
    COMPAT c_enter31
    COMPAT c_enter16
    ORACLE_END_GROUP
    ORACLE_HOOKS 0, 0

    ORACLE_GROUP "#UD in 64-bit mode"
    T {db 0x27}                         ; DAA: #UD in 64-bit mode
    T {db 0xd4, 0x0a}                   ; AAM: #UD
    T {db 0x60}                         ; PUSHA: #UD
    ORACLE_END_GROUP
    ret

; ---------------------------------------------------------------- 32-bit, CPL3
bits 32
c_daa:
    daa
    retf
c_das:
    das
    retf
c_aaa:
    aaa
    retf
c_aas:
    aas
    retf
c_aam10:
    aam
    retf
c_aam16:
    aam 16
    retf
c_aam7:
    aam 7
    retf
c_aam0:
    aam 0
    retf
c_aad10:
    aad
    retf
c_aad16:
    aad 16
    retf
c_aad7:
    aad 7
    retf
c_aad0:
    aad 0
    retf
; PUSHAD / POPAD on the fixed stack: EDX = pushed ESP - ESP; the ESP slot is overwritten
; (POPAD skips it); registers come back from the stack image.
c_pushad:
    mov [ss:saved_esp], esp
    mov esp, FIXED_STACK
    mov ebp, 0x12345678
    pushad
    mov edx, [esp + 12]
    sub edx, esp
    mov dword [esp + 12], 0xdeadbeef
    mov eax, 0
    mov ecx, 0
    popad
    mov ebp, esp
    mov esp, [ss:saved_esp]
    retf
c_pushaw:
    mov [ss:saved_esp], esp
    mov esp, FIXED_STACK
    o16 pusha
    mov dx, [esp + 6]
    mov word [esp + 6], 0xbeef
    mov eax, 0x11111111
    mov ebx, 0x22222222
    o16 popa
    mov ebp, esp
    mov esp, [ss:saved_esp]
    retf
%macro C_ENTER 3
%1:
    mov [ss:saved_esp], esp
    mov esp, FIXED_STACK
    mov ebp, FIXED_STACK - 0x40
    enter %2, %3
    mov ecx, ebp
    mov edx, esp
    leave
    mov ebx, esp
    mov esp, [ss:saved_esp]
    retf
%endmacro
C_ENTER c_enter0, 0, 0
C_ENTER c_enter1, 16, 1
C_ENTER c_enter2, 8, 2
C_ENTER c_enter4, 0x20, 4
C_ENTER c_enter31, 4, 31
c_enter16:
    mov [ss:saved_esp], esp
    mov esp, FIXED_STACK
    mov ebp, FIXED_STACK - 0x40
    o16 enter 6, 3
    mov ecx, ebp
    mov edx, esp
    o16 leave
    mov ebx, esp
    mov esp, [ss:saved_esp]
    retf
bits 64

saved_esp: dd 0
align 16
big_gdt: times 32 dq 0
big_gdt_desc: dw 0
    dq 0

IMAGE_END
