; cpl3 -- user mode in long mode, entered with IRETQ and again with SYSRET; CPL3 comes back to
; CPL0 only through #GP (which every backend, this host's paravirtual KVM included, runs):
; CPL0 loads a TSS with RSP0, sets EFER.SCE and STAR (SYSRET base 0x1B: CS = 0x2B, SS = 0x23)
; and IRETQs to CPL3 code, which computes a sum of squares (natively, on KVM here). Then four
; #GPs raised at CPL3 and caught at CPL0 on the RSP0 stack with their error codes:
;   #1 HLT at CPL3                          -> error 0; RBX carries the sum. CPL0 checks it
;                                              and returns with SYSRET (RCX = RIP, R11 = RFLAGS
;                                              with DF set, RSP = the user stack)
;   #2 CLI with IOPL 0, the first instruction after SYSRET -> error 0; its frame shows what
;                                              SYSRET loaded: RIP, CS, SS, RFLAGS, RSP
;   #3 MOV DS with a DPL 0 data selector    -> error = selector 0x10
;   #4 HLT at CPL3                          -> error 0: the end
; The SYSRET state is checked in the #GP frame, not by CPL3 itself: under kvm_pvm, MOV from
; CS/SS and PUSHF at CPL3 run natively and show the host's user selectors (0x33, 0x2B) and
; IF = 1. RF is masked in the frame's RFLAGS (a fault may set it in the saved image).
; SYSCALL (cpl3_syscall.asm) and INT n from CPL3 (cpl3_int.asm) are separate tests.
; boot: multiboot
; expect-exit: 33
; expect: cpl3: iretq to cs=002B ss=0023 rflags=00000002
; expect: #GP 1 from CPL3: error=0000 cs rpl=3 ss rpl=3 rip ok, on the rsp0 stack
; expect: hlt at CPL3 with rbx = sum of squares 1..100000 = 00012F2B60F30870
; expect: sysret with star=001B000000000000 rcx=user rip r11=00000402
; expect: #GP 2 from CPL3: error=0000 cs rpl=3 ss rpl=3 rip ok, on the rsp0 stack
; expect: after sysret: rip=rcx cs=002B ss=0023 rflags=00000402 rsp=user stack
; expect: #GP 3 from CPL3: error=0010 cs rpl=3 ss rpl=3 rip ok, on the rsp0 stack
; expect: #GP 4 from CPL3: error=0000 cs rpl=3 ss rpl=3 rip ok, on the rsp0 stack
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"

USER_CS      equ SEL_UCODE64 | 3
USER_SS      equ SEL_UDATA | 3
USER_RFLAGS  equ 0x002                  ; IF = 0, IOPL = 0
SYSRET_FLAGS equ 0x402                  ; R11 for SYSRET: DF set, IF = 0, IOPL = 0
EFER_SCE     equ 1 << 0                 ; SYSRET is #UD without it
STAR_MSR     equ 0xc0000081
SYSRET_BASE  equ SEL_CODE64 | 3         ; SYSRET: SS = base + 8, 64-bit CS = base + 16
GP_COUNT     equ 4
RFLAGS_RF    equ 1 << 16

%if SYSRET_BASE + 8 != USER_SS || SYSRET_BASE + 16 != USER_CS
  %error "GDT layout does not fit SYSRET"
%endif

bits 64
main:
    mov rax, kstack_top
    call tss64_init
    SET_ISR64 13, gp_handler
    mov ecx, EFER_MSR
    rdmsr
    or eax, EFER_SCE
    wrmsr
    mov ecx, STAR_MSR
    xor eax, eax
    mov edx, SYSRET_BASE << 16
    wrmsr

    PRINT "cpl3: iretq to cs="
    mov eax, USER_CS
    call put_hex16
    PRINT " ss="
    mov eax, USER_SS
    call put_hex16
    PRINT " rflags="
    mov eax, USER_RFLAGS
    call put_hex32
    call put_crlf

    push USER_SS
    push ustack_top
    push USER_RFLAGS
    push USER_CS
    push user_entry
    iretq

; ---------------------------------------------------------------- CPL 3
user_entry:
    xor eax, eax
    mov ecx, 1
.square:
    mov rdx, rcx
    imul rdx, rcx
    add rax, rdx
    inc ecx
    cmp ecx, 100000
    jbe .square
    mov rbx, rax
user_gp1:
    hlt                                 ; back to CPL0 with the sum; CPL0 SYSRETs to user_gp2
user_gp2:
    cli                                 ; the frame of this #GP shows the state after SYSRET
user_after_gp2:
    cld
    mov ax, SEL_DATA
user_gp3:
    mov ds, ax
user_after_gp3:
user_gp4:
    hlt                                 ; back to CPL0 for good
    jmp $

; ---------------------------------------------------------------- CPL 0
; gp_handler: the Nth #GP must come from gp_table[N].rip at CPL3 with gp_table[N].error, on
; the RSP0 stack; then it jumps to gp_table[N].action (RDI -> frame, RBX -> table entry).
gp_handler:
    mov ebx, [gp_count]
    cmp ebx, GP_COUNT
    jae .unexpected
    imul ebx, ebx, 24
    add rbx, gp_table
    inc dword [gp_count]
    PRINT "#GP "
    mov eax, [gp_count]
    call put_dec
    PRINT " from CPL3: error="
    mov rax, [rdi + FRAME64_ERROR]
    call put_hex16
    EXPECT_EQ rax, [rbx + 8]
    PRINT " cs rpl="
    mov rax, [rdi + FRAME64_CS]
    and eax, 3
    call put_hex4
    EXPECT_EQ eax, 3
    PRINT " ss rpl="
    mov rax, [rdi + FRAME64_SS]
    and eax, 3
    call put_hex4
    EXPECT_EQ eax, 3
    mov rax, [rdi + FRAME64_RIP]
    cmp rax, [rbx]
    jne .bad_rip
    PRINT " rip ok"
    jmp .stack
.bad_rip:
    PRINT " rip="
    call put_hex64
    EXPECT_EQ rax, [rbx]
.stack:
    lea rax, [rdi + FRAME64_SS + 8]     ; top of the interrupt frame = RSP0
    mov rdx, kstack_top
    cmp rax, rdx
    je .on_rsp0
    PRINT ", frame top "
    call put_hex64
    EXPECT_EQ rax, rdx
    call put_crlf
    jmp [rbx + 16]
.on_rsp0:
    PRINTLN ", on the rsp0 stack"
    jmp [rbx + 16]
.unexpected:
    PRINT "unexpected #GP error="
    mov rax, [rdi + FRAME64_ERROR]
    call put_hex16
    PRINT " rip="
    mov rax, [rdi + FRAME64_RIP]
    call put_hex64
    call put_crlf
    EXIT EXIT_FAIL

; after_gp2: the frame of the first instruction after SYSRET, then resume after the CLI.
after_gp2:
    PRINT "after sysret: rip="
    mov rax, [rdi + FRAME64_RIP]
    mov rdx, user_gp2
    cmp rax, rdx
    je .rip_ok
    call put_hex64
    EXPECT_EQ rax, rdx
    jmp .cs
.rip_ok:
    PRINT "rcx"
.cs:
    PRINT " cs="
    mov rax, [rdi + FRAME64_CS]
    call put_hex16
    EXPECT_EQ rax, USER_CS
    PRINT " ss="
    mov rax, [rdi + FRAME64_SS]
    call put_hex16
    EXPECT_EQ rax, USER_SS
    PRINT " rflags="
    mov rax, [rdi + FRAME64_RFLAGS]
    and eax, ~RFLAGS_RF
    call put_hex32
    EXPECT_EQ rax, SYSRET_FLAGS
    PRINT " rsp="
    mov rax, [rdi + FRAME64_RSP]
    mov rdx, ustack_top
    cmp rax, rdx
    je .rsp_ok
    call put_hex64
    EXPECT_EQ rax, rdx
    call put_crlf
    jmp skip_instruction
.rsp_ok:
    PRINTLN "user stack"
    ; fall through
; skip_instruction: resume CPL3 after the faulting instruction (returns through IRETQ).
skip_instruction:
    mov rax, [rbx]
    cmp rax, user_gp2
    mov rax, user_after_gp2
    je .set
    mov rax, user_after_gp3
.set:
    mov [rdi + FRAME64_RIP], rax
    ret

; after_gp1: check the sum, then leave this interrupt frame behind and SYSRET to CPL3.
after_gp1:
    PRINT "hlt at CPL3 with rbx = sum of squares 1..100000 = "
    mov rax, [rdi + FRAME64_RBX]
    call put_hex64
    mov rdx, 333338333350000
    EXPECT_EQ rax, rdx
    call put_crlf
    PRINT "sysret with star="
    mov ecx, STAR_MSR
    rdmsr
    shl rdx, 32
    or rax, rdx
    call put_hex64
    PRINT " rcx=user rip r11="
    mov eax, SYSRET_FLAGS
    call put_hex32
    call put_crlf
    mov rcx, user_gp2
    mov r11d, SYSRET_FLAGS
    mov rsp, ustack_top
    o64 sysret

after_gp4:
    TEST_DONE

align 8
gp_table:                               ; faulting rip, error code, CPL0 action
    dq user_gp1, 0, after_gp1
    dq user_gp2, 0, after_gp2
    dq user_gp3, SEL_DATA, skip_instruction
    dq user_gp4, 0, after_gp4

section .bss
gp_count:   resd 1
alignb 16
kstack:     resb 8192
kstack_top:
ustack:     resb 8192
ustack_top:
section .text

IMAGE_END
