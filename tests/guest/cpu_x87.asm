; cpu_x87 -- x87 computations "as compilers emit them", run at CPL3 so that on this host's KVM
; the real CPU computes them (the oracle) and the software CPU must match it bit for bit. CPL0
; sets CR0.NE/MP (EM, TS clear) and IRETQs to CPL3, which stores each result as an 80-bit value
; (FSTP TBYTE) with the FSW after it, then the FSW after a stack overflow, EFLAGS from FCOMI and
; FUCOMIP (via LAHF), integer and BCD stores, and FNSAVE/FXSAVE64 images; its HLT (#GP) brings
; CPL0 back to print them. The FNSAVE/FXSAVE lines leave out FIP/FDP (code and data addresses)
; and print FOP, which this CPU records only for unmasked exceptions. QEMU deviates from the
; hardware here (expect-qemu lines): r04 FSIN goes through the host libm in double precision;
; r08-r0D its FSTP leaves C1 as FPREM set it (Intel clears it); r0E it models no stack overflow
; (no IE/SF/C1, no indefinite); FNSAVE it stores reserved halves as 0 and always records FOP.
; boot: multiboot
; expect-exit: 33
; expect: r00=4001:8487ED5110B4611A sw=0020
; expect: r01=3FFD:AAAAAAAAAAAAAAAB sw=0020
; expect: r02=3FFD:AAAAAA0000000000 sw=0020
; expect: r03=3FFF:B504F333F9DE6484 sw=0020
; expect: r04=BFFD:F99A63C49C6F2B1A sw=0020
; expect-qemu: r04=BFFD:F99A63C4B5271800 sw=0000
; expect: r05=4001:D49A784BCD1B8AFE sw=0020
; expect: r06=3FFD:ED63382B0DDA7B45 sw=0020
; expect: r07=3FFD:D413CCCFE7799211 sw=0020
; expect: r08=3FFF:8000000000000000 sw=7800
; expect-qemu: r08=3FFF:8000000000000000 sw=7A00
; expect: r09=3FFF:A000000000000000 sw=7800
; expect-qemu: r09=3FFF:A000000000000000 sw=7A00
; expect: r0A=4000:C000000000000000 sw=4000
; expect-qemu: r0A=4000:C000000000000000 sw=4200
; expect: r0B=4005:A000000000000000 sw=7800
; expect-qemu: r0B=4005:A000000000000000 sw=7A00
; expect: r0C=4000:8000000000000000 sw=4020
; expect-qemu: r0C=4000:8000000000000000 sw=4220
; expect: r0D=FFFF:8000000000000000 sw=4004
; expect-qemu: r0D=FFFF:8000000000000000 sw=4204
; expect: r0E=FFFF:C000000000000000 sw=3A41
; expect-qemu: r0E=3FFF:8000000000000000 sw=3800
; expect: r0F=3FFF:8000000000000000 sw=3800
; expect: fcomi ah=03 fucomip(nan) ah=47 fsw=3000 fcom(nan) fsw=6D01
; expect: fbstp=80000000000000000042 fistp=FFFFFFFE fist16=8000 sw=3821
; expect: fnsave cw=FFFF037F sw=FFFF2800 tag=FFFF07FF fop=00000000 regs=AD24D21880214B01 then cw=037F sw=0000
; expect-qemu: fnsave cw=0000037F sw=00002800 tag=000007FF fop=0000002B regs=AD24D21880214B01 then cw=037F sw=0000
; expect: fxsave64 cw=037F sw=3000 ftw=C0 fop=0000 mxcsr=00001F80/0000FFFF regs=901F797550667D47
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"

USER_CS      equ SEL_UCODE64 | 3
USER_SS      equ SEL_UDATA | 3
CR0_MP       equ 1 << 1
CR0_EM       equ 1 << 2
CR0_TS       equ 1 << 3
CR0_NE       equ 1 << 5
CR4_OSFXSR   equ 1 << 9
RESULTS      equ 16

; Stores ST0 (popped) and the FSW as the next 16-byte result.
%macro STORE_RESULT 0
    fstp tword [rdi]
    fnstsw [rdi + 10]
    add rdi, 16
%endmacro

bits 64
main:
    mov rax, kstack_top
    call tss64_init
    SET_ISR64 13, gp_handler
    mov rax, cr0
    and eax, ~(CR0_EM | CR0_TS)
    or eax, CR0_MP | CR0_NE
    mov cr0, rax
    mov rax, cr4
    or eax, CR4_OSFXSR
    mov cr4, rax
    push USER_SS
    push ustack_top
    push 0x002
    push USER_CS
    push user_entry
    iretq

; ---------------------------------------------------------------- CPL 3
user_entry:
    fninit
    mov rdi, results
    fldpi                               ; r00: pi + 1
    fld1
    faddp
    STORE_RESULT
    fld1                                ; r01: 1/3 (inexact)
    fld dword [f_three]
    fdivp
    STORE_RESULT
    fnclex
    fldcw [cw_chop_single]              ; r02: 1/3 chopped to 24 bits
    fld1
    fld dword [f_three]
    fdivp
    STORE_RESULT
    fldcw [cw_default]
    fnclex
    fld qword [d_two]                   ; r03: sqrt 2
    fsqrt
    STORE_RESULT
    fnclex
    fld qword [d_1e10]                  ; r04: sin 1e10
    fsin
    STORE_RESULT
    fnclex
    fld qword [d_two]                   ; r05: 2 * log2 10
    fld qword [d_ten]
    fyl2x
    STORE_RESULT
    fnclex
    fld1                                ; r06: atan(1/2)
    fld qword [d_two]
    fpatan
    STORE_RESULT
    fnclex
    fld qword [d_half]                  ; r07: 2^0.5 - 1
    f2xm1
    STORE_RESULT
    fnclex
    fld qword [d_three]                 ; r08: 10 mod 3
    fld qword [d_ten]
    fprem
    STORE_RESULT
    fstp st0
    fld qword [d_ten]                   ; r09, r10: fxtract 10 = 1.25 * 2^3
    fxtract
    STORE_RESULT
    STORE_RESULT
    fld qword [d_three]                 ; r11: fscale 10 * 2^3
    fld qword [d_ten]
    fscale
    STORE_RESULT
    fstp st0
    fld qword [d_2_5]                   ; r12: frndint 2.5 (to even)
    frndint
    STORE_RESULT
    fnclex
    fld1                                ; r13: -1/0 (masked ZE)
    fchs
    fldz
    fdivp
    STORE_RESULT
    fninit                              ; r14: 9 pushes: stack overflow, indefinite
%rep 9
    fld1
%endrep
    fnstsw [rdi + 10]
    fstp tword [rdi]
    add rdi, 16
    fninit
    fld qword [d_three]                 ; r15: fcmovb (CF=1 from stc) picks ST1
    fld1
    fxch
    stc
    fcmovb st0, st1
    STORE_RESULT
    fstp st0

    fninit                              ; FCOMI / FUCOMIP with a NaN
    fldpi
    fld1
    fcomi st0, st1
    lahf
    mov [cmp_ah], ah
    fld qword [d_nan]
    fucomip st0, st1
    lahf
    mov [cmp_ah + 1], ah
    fnstsw [cmp_sw]
    fld qword [d_nan]
    fcom st1                            ; FCOM with a QNaN: IE, C3 C2 C0
    fnstsw [cmp_sw + 2]
    fninit

    fld qword [d_42]                    ; integer and BCD stores
    fbstp [bcd]
    fld qword [d_m2_5]
    fistp dword [int32]                 ; -2.5 -> -2 (round to nearest even)
    fld qword [d_1e10]
    fist word [int16]                   ; too big: IE, masked -> integer indefinite
    fnstsw [int_sw]
    fninit

    fld1                                ; FNSAVE with three registers
    fldpi
    fldz
    fnsave [save_area]
    fnstcw [after_save]
    fnstsw [after_save + 2]
    fld1                                ; FXSAVE64 with two registers
    fldl2e
    fxsave64 [fx_area]
    fninit
user_done:
    hlt                                 ; #GP back to CPL0
    jmp $

; ---------------------------------------------------------------- CPL 0
gp_handler:
    mov rbx, results
    xor r12d, r12d
.result:
    PRINT "r"
    mov eax, r12d
    shr eax, 4
    call put_hex4
    mov eax, r12d
    call put_hex4
    PRINT "="
    mov ax, [rbx + 8]
    call put_hex16
    PRINT ":"
    mov rax, [rbx]
    call put_hex64
    PRINT " sw="
    mov ax, [rbx + 10]
    call put_hex16
    call put_crlf
    add rbx, 16
    inc r12d
    cmp r12d, RESULTS
    jb .result

    PRINT "fcomi ah="
    mov al, [cmp_ah]
    call put_hex8
    PRINT " fucomip(nan) ah="
    mov al, [cmp_ah + 1]
    call put_hex8
    PRINT " fsw="
    mov ax, [cmp_sw]
    call put_hex16
    PRINT " fcom(nan) fsw="
    mov ax, [cmp_sw + 2]
    call put_hex16
    call put_crlf

    PRINT "fbstp="
    mov ax, [bcd + 8]
    call put_hex16
    mov rax, [bcd]
    call put_hex64
    PRINT " fistp="
    mov eax, [int32]
    call put_hex32
    PRINT " fist16="
    mov ax, [int16]
    call put_hex16
    PRINT " sw="
    mov ax, [int_sw]
    call put_hex16
    call put_crlf

    PRINT "fnsave cw="
    mov eax, [save_area]
    call put_hex32
    PRINT " sw="
    mov eax, [save_area + 4]
    call put_hex32
    PRINT " tag="
    mov eax, [save_area + 8]
    call put_hex32
    PRINT " fop="
    mov eax, [save_area + 16]
    call put_hex32
    PRINT " regs="
    mov rsi, save_area + 28
    mov ecx, 10
    call checksum
    call put_hex64
    PRINT " then cw="
    mov ax, [after_save]
    call put_hex16
    PRINT " sw="
    mov ax, [after_save + 2]
    call put_hex16
    call put_crlf

    PRINT "fxsave64 cw="
    mov ax, [fx_area]
    call put_hex16
    PRINT " sw="
    mov ax, [fx_area + 2]
    call put_hex16
    PRINT " ftw="
    mov al, [fx_area + 4]
    call put_hex8
    PRINT " fop="
    mov ax, [fx_area + 6]
    call put_hex16
    PRINT " mxcsr="
    mov eax, [fx_area + 24]
    call put_hex32
    PRINT "/"
    mov eax, [fx_area + 28]
    call put_hex32
    PRINT " regs="
    mov rsi, fx_area + 32
    mov ecx, 16
    call checksum
    call put_hex64
    call put_crlf
    mov rax, [rdi + FRAME64_RIP]
    mov rdx, user_done
    EXPECT_EQ rax, rdx
    TEST_DONE

; checksum: RAX = rotate-xor hash of RCX qwords at RSI.
checksum:
    xor eax, eax
.next:
    rol rax, 7
    xor rax, [rsi]
    add rsi, 8
    dec ecx
    jnz .next
    ret

align 8
f_three:        dd 3.0
d_two:          dq 2.0
d_three:        dq 3.0
d_ten:          dq 10.0
d_half:         dq 0.5
d_2_5:          dq 2.5
d_m2_5:         dq -2.5
d_42:           dq -42.0
d_1e10:         dq 1.0e10
d_nan:          dq __?QNaN?__
cw_default:     dw 0x037f
cw_chop_single: dw 0x0c7f

section .bss
alignb 16
results:    resb 16 * RESULTS
cmp_ah:     resb 2
cmp_sw:     resw 2
bcd:        resb 10
int16:      resw 1
int32:      resd 1
int_sw:     resw 1
after_save: resw 2
alignb 16
save_area:  resb 108
alignb 16
fx_area:    resb 512
alignb 16
kstack:     resb 8192
kstack_top:
ustack:     resb 8192
ustack_top:
section .text

IMAGE_END
