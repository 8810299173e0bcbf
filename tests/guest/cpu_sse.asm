; cpu_sse -- SSE/SSE2 computations at CPL3 (native on this host's KVM: the real CPU is the
; oracle). CPL0 sets CR4.OSFXSR and OSXMMEXCPT, catches #GP and #XM from CPL3, and IRETQs to
; CPL3, which runs each case from fixed inputs and records XMM0, RAX, the arithmetic flags and
; MXCSR; a final HLT (#GP) brings CPL0 back to print one line per case. CPL0 never touches SSE
; state (this host's KVM emulates CPL0 and fails on STMXCSR there).
; Line format: name: xmm0 high:low rax flags(OF SF ZF AF PF CF) mxcsr [fault vector].
; expect-qemu lines, QEMU TCG deviations from the hardware: RCPPS/RSQRTPS are exact divisions,
; not Intel's 12-bit approximations; CVTPS2PD/CVTPD2PS do not flag denormal operands (DE); an
; unmasked SIMD exception does not raise #XM (the result is written instead).
; The misaligned-operand #GP is not here: this host's KVM turns it into #UD at CPL3 (it hands
; the #GP to its instruction emulator); tests/unit/test_tcg_sse.cpp covers it.
; boot: multiboot
; expect-exit: 33
; expect: addps: 7FC000007F8000000000000040400000 0000000000000000 0044 00001F80
; expect: subps-rz: BF8000007F800000401555553F2AAAAA 0000000000000000 0044 00007FA0
; expect: mulps-daz-ftz: 000000000000000080C00000C0C00000 0000000000000000 0044 00009FC0
; expect: divps: 7FC000007F800000FFC000007F800000 0000000000000000 0044 00001F85
; expect: sqrtps: FFC000007F8000003FB504F33F800000 0000000000000000 0044 00001FA1
; expect: minmaxps: 800000003F8000007FC0000000000000 0000000000000000 0044 00001F81
; expect: rcpps: 3EAAA0007F8000003DCCC0003F7FF000 0000000000000000 0044 00001F80
; expect-qemu: rcpps: 3EAAAAAB7F8000003DCCCCCD3F800000 0000000000000000 0044 00001F80
; expect: rsqrtps: 3FFFF0003F34F8003EFFF0003F7FF000 0000000000000000 0044 00001F80
; expect-qemu: rsqrtps: 400000003F3504F33F0000003F800000 0000000000000000 0044 00001F80
; expect: addsd-ru: 40091EB851EB851F3FF0000000000001 0000000000000000 0044 00005F80
; expect: divsd-sqrtpd: 3FD55555555555557FF0000000000000 0000000000000000 0044 00001FA4
; expect: cmpltps: 00000000000000000000000000000000 0000000000000000 0044 00001F81
; expect: cmpunordpd: 0000000000000000FFFFFFFFFFFFFFFF 0000000000000000 0044 00001F80
; expect: comiss-nan: 0000000000000000000000007FC00000 0000000000000000 0045 00001F81
; expect: ucomisd-lt: 00000000000000003FF0000000000000 0000000000000000 0001 00001F80
; expect: cvtsd2si-rd: 0000000000000000C00C000000000000 FFFFFFFFFFFFFFFC 0044 00003FA0
; expect: cvttss2si-big: 0000000000000000000000005F000000 0000000080000000 0044 00001F81
; expect: cvtsi2ss-64: 000000000000000000000000DF000000 8000000000000001 0044 00001FA0
; expect: cvtps2pd: C00C00000000000036A0000000000000 0000000000000000 0044 00001F82
; expect-qemu: cvtps2pd: C00C00000000000036A0000000000000 0000000000000000 0044 00001F80
; expect: cvtpd2ps: 00000000000000007F80000000000000 0000000000000000 0044 00001FBA
; expect-qemu: cvtpd2ps: 00000000000000007F80000000000000 0000000000000000 0044 00001FB8
; expect: cvtps2dq-ru: 80000000FFFFFFFF0000000200000001 0000000000000000 0044 00005FA1
; expect: cvttpd2dq: 000000000000000080000000FFFFFFFF 0000000000000000 0044 00001FA1
; expect: cvtdq2ps: CF0000004B8000003F8000004F000000 0000000000000000 0044 00001FA0
; expect: paddsw-psubusb: 00000100FF0100000000000000000000 0000000000000000 0044 00001F80
; expect: pmul: 00003FFF00000000FFFF12FF0000FFFF 0000000000000000 0044 00001F80
; expect: pmaddwd-pavgb: 0000000000000000C0BF79019FC00801 0000000000000000 0044 00001F80
; expect: psadbw: 00000000000002200000000000000183 0000000000000000 0044 00001F80
; expect: packs: FE7F807FFE01807F7FFF7FFF000100FF 0000000000000000 0044 00001F80
; expect: pcmpgtb-pminub: 000706050000000100FF000000000000 0000000000000000 0044 00001F80
; expect: unpack: 88776655F4F3AA7744332211F2F199F7 0000000000000000 0044 00001F80
; expect: shuffles: 00444444442222222222222222333333 0000000000000000 0044 00001F80
; expect: shifts: 1E000000000000001E00000000000000 0000000000000000 0044 00001F80
; expect: byte-shifts: 1211F8F7F6F5F4F3F2F1000000000000 0000000000000000 0044 00001F80
; expect: pextrw-pinsrw: ABCD1111000011118877665544332211 000000000000EEDD 0044 00001F80
; expect: movemasks: 00000000000000000000000000000000 0000000044000000 0004 00001F80
; expect: moves: 00222222000000072222222211111111 0000000000000000 0044 00001F80
; expect: movq-movd: 00000000000000008877665544332211 0000000044332211 0044 00001F80
; expect: maskmovdqu: EEEEEEEEEEEEEEEEEE77EE55EE33EE11 0000000000000000 0044 00001F80
; expect: divps-unmasked: 3F8000003F8000003F8000003F800000 0000000000000000 0044 00001D84 #13
; expect-qemu: divps-unmasked: 7F8000007F8000007F8000007F800000 0000000000000000 0044 00001D84
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"

USER_CS      equ SEL_UCODE64 | 3
USER_SS      equ SEL_UDATA | 3
CR4_OSFXSR   equ 1 << 9
CR4_OSXMMEXCPT equ 1 << 10
CR0_EM       equ 1 << 2
CR0_TS       equ 1 << 3
CR0_MP       equ 1 << 1
ARITH_FLAGS  equ 0x8d5
RESULT_SIZE  equ 48                     ; name, xmm0 (16), rax, flags, mxcsr | fault << 32

; CASE "name", insn, insn, ...: runs the instructions at CPL3 from a clean state (MXCSR
; 0x1F80, XMM0/XMM1 = 0, RAX = 0, a fault resumes at the record step) and records the result.
%macro CASE 2-*
    jmp %%code
  %%name: db %1, 0
  %%code:
    call reset_state
    mov qword [resume_rip], %%record
  %rotate 1
  %rep %0 - 1
    %1
    %rotate 1
  %endrep
  %%record:
    mov qword [case_name], %%name
    call record
%endmacro

bits 64
main:
    mov qword [result_end], results
    mov rax, kstack_top
    call tss64_init
    SET_ISR64 13, fault_handler
    SET_ISR64 19, fault_handler
    mov rax, cr0
    and eax, ~(CR0_EM | CR0_TS)
    or eax, CR0_MP
    mov cr0, rax
    mov rax, cr4
    or eax, CR4_OSFXSR | CR4_OSXMMEXCPT
    mov cr4, rax
    push USER_SS
    push ustack_top
    push 0x002
    push USER_CS
    push user_main
    iretq

; ---------------------------------------------------------------- CPL 0
; A fault from a case: note the vector and resume at the case's record step. The HLT at the
; end: print the results.
fault_handler:
    mov rax, [rdi + FRAME64_RIP]
    mov rdx, user_done
    cmp rax, rdx
    je print_results
    mov rax, [rdi + FRAME64_VECTOR]
    mov [fault_vector], rax
    mov rax, [resume_rip]
    mov [rdi + FRAME64_RIP], rax
    ret

print_results:
    mov rbx, results
.line:
    cmp rbx, [result_end]
    jae .done
    mov rsi, [rbx]
    call com1_puts
    PRINT ": "
    mov rax, [rbx + 16]
    call put_hex64
    mov rax, [rbx + 8]
    call put_hex64
    PRINT " "
    mov rax, [rbx + 24]
    call put_hex64
    PRINT " "
    mov rax, [rbx + 32]
    call put_hex16
    PRINT " "
    mov eax, [rbx + 40]
    call put_hex32
    mov eax, [rbx + 44]
    test eax, eax
    jz .eol
    PRINT " #"
    call put_hex8
.eol:
    call put_crlf
    add rbx, RESULT_SIZE
    jmp .line
.done:
    TEST_DONE

; RSI -> zero-terminated string.
com1_puts:
    lodsb
    test al, al
    jz .end
    call com1_putc
    jmp com1_puts
.end:
    ret

; ---------------------------------------------------------------- CPL 3
reset_state:
    ldmxcsr [csr_default]
    xorps xmm0, xmm0
    xorps xmm1, xmm1
    xor eax, eax
    mov qword [fault_vector], 0
    ret

; Appends case_name, XMM0, RAX, the arithmetic flags, MXCSR and the fault vector.
record:
    pushfq
    push rdi
    mov rdi, [result_end]
    movdqu [rdi + 8], xmm0
    mov [rdi + 24], rax
    mov rax, [rsp + 8]
    and eax, ARITH_FLAGS
    mov [rdi + 32], rax
    stmxcsr [rdi + 40]
    mov eax, [fault_vector]
    mov [rdi + 44], eax
    mov rax, [case_name]
    mov [rdi], rax
    add qword [result_end], RESULT_SIZE
    pop rdi
    popfq
    ret

user_main:
    CASE "addps", {movaps xmm0, [f_a]}, {addps xmm0, [f_b]}
    CASE "subps-rz", {ldmxcsr [csr_rz]}, {movaps xmm0, [f_c]}, {subps xmm0, [f_d]}
    CASE "mulps-daz-ftz", {ldmxcsr [csr_daz_ftz]}, {movaps xmm0, [f_tiny]}, {mulps xmm0, [f_tiny2]}
    CASE "divps", {movaps xmm0, [f_a]}, {divps xmm0, [f_b]}
    CASE "sqrtps", {sqrtps xmm0, [f_c]}
    CASE "minmaxps", {movaps xmm0, [f_mm]}, {minps xmm0, [f_mm2]}, {movaps xmm1, [f_mm2]}, {maxps xmm1, [f_mm]}, {shufps xmm0, xmm1, 0x4e}
    CASE "rcpps", {rcpps xmm0, [f_r]}
    CASE "rsqrtps", {rsqrtps xmm0, [f_r2]}
    CASE "addsd-ru", {ldmxcsr [csr_ru]}, {movapd xmm0, [d_a]}, {addsd xmm0, [d_b]}, {movhpd xmm0, [d_pi]}
    CASE "divsd-sqrtpd", {movapd xmm1, [d_a]}, {sqrtpd xmm0, [d_third]}, {divsd xmm1, [d_zero]}, {movlhps xmm0, xmm1}, {shufpd xmm0, xmm0, 1}, {movq xmm2, xmm0}, {movhlps xmm0, xmm0}, {movlhps xmm0, xmm2}, {shufpd xmm0, xmm0, 1}
    CASE "cmpltps", {movaps xmm0, [f_a]}, {cmpltps xmm0, [f_b]}
    CASE "cmpunordpd", {movapd xmm0, [d_nan2]}, {cmpunordpd xmm0, [d_a]}
    CASE "comiss-nan", {movss xmm0, [f_nan]}, {movss xmm1, [f_one]}, {comiss xmm0, xmm1}
    CASE "ucomisd-lt", {movsd xmm0, [d_one]}, {ucomisd xmm0, [d_two]}
    CASE "cvtsd2si-rd", {ldmxcsr [csr_rd]}, {movsd xmm0, [d_m35]}, {cvtsd2si rax, xmm0}
    CASE "cvttss2si-big", {movss xmm0, [f_big]}, {cvttss2si eax, xmm0}
    CASE "cvtsi2ss-64", {mov rax, 0x8000000000000001}, {cvtsi2ss xmm0, rax}
    CASE "cvtps2pd", {movaps xmm1, [f_cvt]}, {cvtps2pd xmm0, xmm1}
    CASE "cvtpd2ps", {cvtpd2ps xmm0, [d_cvt]}
    CASE "cvtps2dq-ru", {ldmxcsr [csr_ru]}, {cvtps2dq xmm0, [f_cvt2]}
    CASE "cvttpd2dq", {cvttpd2dq xmm0, [d_cvt2]}
    CASE "cvtdq2ps", {cvtdq2ps xmm0, [i_cvt]}
    CASE "paddsw-psubusb", {movdqa xmm0, [i_a]}, {paddsw xmm0, [i_b]}, {movdqa xmm1, [i_c]}, {psubusb xmm1, [i_d]}, {punpcklqdq xmm1, xmm0}, {movdqa xmm0, xmm1}, {pshufd xmm0, xmm0, 0x4e}, {pxor xmm1, xmm1}, {punpckhqdq xmm0, xmm1}, {pshufd xmm0, xmm0, 0x4e}
    CASE "pmul", {movdqa xmm0, [i_m]}, {movdqa xmm1, xmm0}, {pmullw xmm0, [i_m2]}, {pmuludq xmm1, [i_m2]}, {pmulhw xmm0, [i_m2]}, {pmulhuw xmm1, [i_m2]}, {paddq xmm0, xmm1}
    CASE "pmaddwd-pavgb", {movdqa xmm0, [i_m]}, {pmaddwd xmm0, [i_m2]}, {pavgb xmm0, [i_c]}, {psubq xmm1, xmm1}, {punpcklqdq xmm0, xmm1}
    CASE "psadbw", {movdqa xmm0, [i_c]}, {psadbw xmm0, [i_d]}
    CASE "packs", {movdqa xmm0, [i_a]}, {packsswb xmm0, [i_b]}, {movdqa xmm1, [i_b]}, {packuswb xmm1, [i_a]}, {packssdw xmm1, [i_m]}, {punpcklqdq xmm1, xmm0}, {movdqa xmm0, xmm1}
    CASE "pcmpgtb-pminub", {movdqa xmm0, [i_c]}, {pcmpgtb xmm0, [i_d]}, {pminub xmm0, [i_e]}, {pmaxsw xmm0, [i_zero]}, {pcmpeqd xmm1, xmm1}, {pandn xmm1, xmm0}, {por xmm0, xmm1}
    CASE "unpack", {movdqa xmm0, [i_seq]}, {movdqa xmm1, [i_seq2]}, {punpcklbw xmm1, xmm0}, {movdqa xmm0, [i_seq]}, {punpckhwd xmm0, xmm1}, {pand xmm0, [i_ff]}, {punpckhdq xmm1, xmm0}, {unpcklps xmm0, xmm1}, {unpckhpd xmm0, xmm1}, {punpckhbw xmm0, [i_seq]}, {punpcklwd xmm0, [i_seq2]}, {punpckldq xmm0, [i_seq]}
    CASE "shuffles", {movdqa xmm0, [i_q]}, {pshufhw xmm0, xmm0, 0x1b}, {pshuflw xmm0, xmm0, 0xb1}, {pshufd xmm0, xmm0, 0x93}, {shufps xmm0, [i_q], 0xd8}, {psrldq xmm0, 1}
    CASE "shifts", {movdqa xmm0, [i_ff]}, {psllw xmm0, 4}, {psrad xmm0, 31}, {psrlq xmm0, [i_count]}, {pslld xmm0, 4}, {psraw xmm0, [i_count]}, {psrlw xmm0, 3}, {psllq xmm0, 60}, {psrld xmm0, [i_count]}
    CASE "byte-shifts", {movdqa xmm0, [i_seq2]}, {pslldq xmm0, 6}, {psrldq xmm0, 4}, {pslldq xmm0, 4}
    CASE "pextrw-pinsrw", {movdqa xmm0, [i_seq]}, {pextrw eax, xmm0, 6}, {pinsrw xmm0, [i_abcd], 3}, {mov ecx, 0x11111111}, {pinsrw xmm0, ecx, 0}, {pinsrw xmm0, ecx, 2}, {pinsrw xmm0, [i_zero], 1}, {movq xmm1, [i_qr]}, {punpcklqdq xmm0, xmm1}, {pshufd xmm0, xmm0, 0x4e}
    CASE "movemasks", {movaps xmm1, [f_a]}, {movmskps eax, xmm1}, {movmskpd ecx, xmm1}, {shl ecx, 2}, {or eax, ecx}, {pmovmskb ecx, xmm1}, {shl ecx, 16}, {or eax, ecx}
    CASE "moves", {movss xmm0, [i_q + 8]}, {movss xmm1, [i_q + 4]}, {movlhps xmm0, xmm1}, {movhps [buf], xmm0}, {movlps xmm0, [i_q + 8]}, {movss xmm1, xmm0}, {movhlps xmm1, xmm0}, {movsd xmm0, xmm1}, {movups [buf + 3], xmm0}, {movups xmm0, [buf + 3]}, {movaps [buf + 16], xmm0}, {movntps [buf + 32], xmm0}, {movapd xmm0, [buf + 32]}, {movlpd xmm0, [buf]}, {movhpd xmm0, [i_q]}, {mov ecx, 7}, {movnti [buf + 48], ecx}, {movd xmm1, [buf + 48]}, {movss xmm0, xmm1}, {movsd xmm2, [i_q]}, {movlps [buf + 56], xmm2}, {movq xmm1, [buf + 56]}, {punpcklqdq xmm1, xmm0}, {movdqa xmm0, xmm1}, {xorps xmm2, xmm2}, {andnps xmm2, xmm0}, {orps xmm0, xmm2}, {xorps xmm0, [i_zero]}, {andps xmm0, [i_ff]}
    CASE "movq-movd", {mov rax, 0x8877665544332211}, {movq xmm0, rax}, {movd eax, xmm0}, {movdqa xmm1, xmm0}, {movq rcx, xmm1}, {movq xmm0, rcx}, {movq xmm0, xmm0}, {movq [buf], xmm0}, {movq xmm0, [buf]}, {movd xmm1, eax}, {movd [buf], xmm1}
    CASE "maskmovdqu", {movdqa xmm0, [i_ee]}, {movdqa [buf], xmm0}, {movdqa xmm0, [i_seq]}, {pcmpeqd xmm1, xmm1}, {pand xmm1, [i_mask]}, {mov rdi, buf}, {maskmovdqu xmm0, xmm1}, {movdqa xmm0, [buf]}
    CASE "divps-unmasked", {ldmxcsr [csr_zm_clear]}, {movaps xmm0, [f_one4]}, {divps xmm0, [i_zero]}
user_done:
    hlt

align 16
f_a:      dd 3.0, 0.0, __?Infinity?__, __?QNaN?__
align 16
f_b:      dd 0.0, 0.0, 1.0, 2.0
f_b_end:
align 16
f_c:      dd 1.0, 2.0, __?Infinity?__, -1.0
align 16
f_d:      dd 0.333333333, -0.333333333, 0x00800000, 0x00800000
align 16
f_tiny:   dd 1.5, -1.5, 0x00000003, 0x00400000
align 16
f_tiny2:  dd -4.0, 0x00800000, 2.0, 1.0
align 16
f_mm:     dd 1.0, -0.0, __?QNaN?__, 0.0
align 16
f_mm2:    dd -1.0, 0.0, 0.0, __?QNaN?__
align 16
f_r:      dd 1.0, 10.0, 0.0, 3.0
align 16
f_r2:     dd 1.0, 4.0, 2.0, 0.25
align 16
f_nan:    dd __?QNaN?__, 0, 0, 0
align 16
f_one:    dd 1.0, 0, 0, 0
align 16
f_one4:   dd 1.0, 1.0, 1.0, 1.0
align 16
f_big:    dd 0x5f000000, 0, 0, 0
align 16
f_cvt:    dd 0x00000001, -3.5, 0, 0
align 16
f_cvt2:   dd 0.25, 1.5, -1.75, 0x4f000000
align 16
d_a:      dq 1.0, 2.0
align 16
d_b:      dq 0x3cb0000000000000, 0
align 16
d_pi:     dq 3.14
align 16
d_one:    dq 1.0
align 16
d_two:    dq 2.0
align 16
d_zero:   dq 0.0, 0.0
align 16
d_third:  dq 0.111111111111111111, 0.0
align 16
d_nan2:   dq __?QNaN?__, 1.0
align 16
d_m35:    dq -3.5
align 16
d_cvt:    dq 0x0000000000000001, 1.0e300
align 16
d_cvt2:   dq -1.9, 3.0e10
align 16
i_cvt:    dd 0x7fffffff, 1, 0x01000001, 0x80000000
align 16
i_a:      dw 0x7000, 0x8001, 1, -2, 0x7fff, 0x8000, 0x0102, 0xfffe
align 16
i_b:      dw 0x1000, 0xff00, 0, 0, 1, -1, 0, 0
align 16
i_c:      db 0x00, 0x10, 0x80, 0xff, 0x01, 0x02, 0x7f, 0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88
align 16
i_d:      db 0x01, 0x10, 0x7f, 0x00, 0x02, 0x01, 0x80, 0xff, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11
align 16
i_e:      db 0x0f, 0xff, 0xf0, 0x00, 0xff, 0x00, 0xff, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08
align 16
i_m:      dw 0xffff, 0x7fff, 3, -4, 0x8000, 0x8000, 5, 6
align 16
i_m2:     dw 0xffff, 0x7fff, 0x1000, 0x1000, 0x8000, 2, -7, 9
align 16
i_seq:    db 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xf5, 0xf6
align 16
i_seq2:   db 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18
align 16
i_ff:     dq -1, -1
align 16
i_zero:   dq 0, 0
align 16
i_q:      dd 0x11111111, 0x22222222, 0x33333333, 0x44444444
align 16
i_count:  dq 3, 0
align 16
i_abcd:   dw 0xabcd
align 16
i_qr:     dq 0x8877665544332211
align 16
i_ee:     times 16 db 0xee
align 16
i_mask:   db 0x80, 0x00, 0xff, 0x7f, 0x80, 0x01, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
csr_default:  dd 0x1f80
csr_rz:       dd 0x7f80
csr_ru:       dd 0x5f80
csr_rd:       dd 0x3f80
csr_daz_ftz:  dd 0x9fc0
csr_zm_clear: dd 0x1d80

section .bss
alignb 16
buf:          resb 64
results:      resb RESULT_SIZE * 64
result_end:   resq 1
case_name:    resq 1
resume_rip:   resq 1
fault_vector: resq 1
kstack:       resb 8192
kstack_top:
ustack:       resb 8192
ustack_top:
section .text

IMAGE_END
