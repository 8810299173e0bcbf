; cpu_system_query -- descriptor queries and a segment push in 32-bit protected mode, at CPL 0
; on the multiboot GDT: LAR (access rights, ZF), LSL (byte limit with G), VERR/VERW (readable
; code, writable data, null and out-of-table selectors give ZF = 0), ARPL (raises RPL, ZF), and
; PUSH DS with a 32-bit operand: ESP moves by 4 but only the 16-bit selector is written, the
; upper half of the slot keeps its old bytes (what Intel Core processors do, SDM PUSH).
; kvm-host-limit: LAR at CPL0 is not in the host kernel's instruction emulator (kvm_pvm: "KVM emulation failure ... bytes: 0f 02")
; boot: multiboot
; expect-exit: 33
; expect: lar 08=00C09B00 zf=1, 10=00C09300 zf=1, 30 zf=0, 00 zf=0
; expect: lsl 10=FFFFFFFF zf=1, 08 zf=1, 30 zf=0
; expect: verr 08=1 10=1 00=0 7F8=0, verw 08=0 10=1 20=1
; expect: arpl 0010,0023 -> 0013 zf=1; 0013,0010 -> 0013 zf=0
; expect: push ds (o32): esp-4, slot=DEAD0010
; expect-qemu: push ds (o32): esp-4, slot=00000010
; expect: PASS
%include "multiboot.inc"
%include "pm32.inc"

; SAVE_ZF right after the instruction (PRINT clobbers flags), PUT_ZF prints it as one digit.
%macro SAVE_ZF 0
    setz [saved_zf]
%endmacro
%macro PUT_ZF 0
    mov al, [saved_zf]
    call put_hex4
%endmacro

main:
    PRINT "lar 08="
    mov eax, 0x11111111
    mov cx, SEL_CODE32
    lar eax, cx
    SAVE_ZF
    call put_hex32
    PRINT " zf="
    PUT_ZF
    PRINT ", 10="
    mov cx, SEL_DATA
    lar eax, cx
    SAVE_ZF
    call put_hex32
    PRINT " zf="
    PUT_ZF
    PRINT ", 30 zf="
    mov cx, SEL_TSS                     ; an all-zero descriptor in 32-bit mode
    mov ebx, 0x5555
    lar ebx, cx
    SAVE_ZF
    PUT_ZF
    EXPECT_EQ ebx, 0x5555
    PRINT ", 00 zf="
    xor ecx, ecx
    lar ebx, cx
    SAVE_ZF
    PUT_ZF
    call put_crlf

    PRINT "lsl 10="
    mov cx, SEL_DATA
    lsl eax, cx
    SAVE_ZF
    call put_hex32
    PRINT " zf="
    PUT_ZF
    PRINT ", 08 zf="
    mov cx, SEL_CODE32
    lsl eax, cx
    SAVE_ZF
    PUT_ZF
    PRINT ", 30 zf="
    mov cx, SEL_TSS
    lsl eax, cx
    SAVE_ZF
    PUT_ZF
    call put_crlf

    PRINT "verr 08="
    mov cx, SEL_CODE32
    verr cx
    SAVE_ZF
    PUT_ZF
    PRINT " 10="
    mov cx, SEL_DATA
    verr cx
    SAVE_ZF
    PUT_ZF
    PRINT " 00="
    xor ecx, ecx
    verr cx
    SAVE_ZF
    PUT_ZF
    PRINT " 7F8="
    mov cx, 0x7f8                       ; beyond the GDT limit: no fault, ZF = 0
    verr cx
    SAVE_ZF
    PUT_ZF
    PRINT ", verw 08="
    mov cx, SEL_CODE32
    verw cx
    SAVE_ZF
    PUT_ZF
    PRINT " 10="
    mov cx, SEL_DATA
    verw cx
    SAVE_ZF
    PUT_ZF
    PRINT " 20="
    mov cx, SEL_UDATA
    verw cx
    SAVE_ZF
    PUT_ZF
    call put_crlf

    PRINT "arpl 0010,0023 -> "
    mov bx, 0x10
    mov cx, 0x23
    arpl bx, cx
    SAVE_ZF
    mov ax, bx
    call put_hex16
    PRINT " zf="
    PUT_ZF
    PRINT "; 0013,0010 -> "
    mov bx, 0x13
    mov cx, 0x10
    arpl bx, cx
    SAVE_ZF
    mov ax, bx
    call put_hex16
    PRINT " zf="
    PUT_ZF
    call put_crlf

    PRINT "push ds (o32): esp"
    mov dword [esp - 4], 0xdeadbeef
    mov ebx, esp
    push ds
    sub ebx, esp
    mov edx, [esp]
    add esp, 4
    cmp ebx, 4
    jne .bad_esp
    PRINT "-4"
.bad_esp:
    EXPECT_EQ ebx, 4
    PRINT ", slot="
    mov eax, edx
    call put_hex32
    call put_crlf
    TEST_DONE

section .bss
saved_zf: resb 1
section .text

IMAGE_END
