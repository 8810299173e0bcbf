; cpl3_syscall -- user mode in long mode, entered with IRETQ, left with SYSCALL, back with SYSRET.
; CPL0 sets EFER.SCE, STAR (SYSCALL CS/SS = SEL_SYSCALL_CS/SS = 0x40/0x48; SYSRET base 0x1B,
; so CS = 0x2B, SS = 0x23), LSTAR and SFMASK (TF, IF, DF, NT) with WRMSR, loads a TSS with
; RSP0 and IRETQs to CPL3 code, which computes a sum of squares (natively, on KVM here) and
; passes it with SYSCALL, DF set. Three round trips:
;   syscall 1: the sum; at CPL0 CS/SS come from STAR, RFLAGS = user RFLAGS & ~SFMASK,
;              RCX = the user RIP after the SYSCALL, R11 = the user RFLAGS, RSP unchanged;
;              SYSRET back to CPL3.
;   then two #GPs raised at CPL3 and caught at CPL0 through the RSP0 stack:
;     #1 CLI with IOPL 0                      -> error 0
;     #2 MOV DS with a DPL 0 data selector    -> error = selector 0x10
;   syscall 2: reports CS, SS and RFLAGS as CPL3 saw them after SYSRET 1 (RFLAGS = R11);
;              returns a 64-bit value in RAX through SYSRET 2.
;   syscall 3: passes back the RAX that CPL3 got; CPL0 ends the test.
; INT n from CPL3 (DPL 3 and DPL 0 gates) is in cpl3_int.asm; cpl3.asm leaves CPL3 through
; #GP only, which this host's KVM can run.
; kvm-host-limit: SYSCALL at CPL3 under kvm_pvm reaches LSTAR still at CPL3 (CS=0x33, SS=0x2B: the host's user selectors; IF set)
; boot: multiboot
; expect-exit: 33
; expect: cpl3_syscall: iretq to cs=002B ss=0023 rflags=00000002
; expect: syscall 1 from CPL3: sum of squares 1..100000 = 00012F2B60F30870
; expect: syscall 1 at CPL0: cs=0040 ss=0048 rflags=00000002 r11=00000402, rcx = return rip, user rsp kept
; expect: #GP 1 from CPL3: error=0000 cs rpl=3 rip ok, on the rsp0 stack
; expect: #GP 2 from CPL3: error=0010 cs rpl=3 rip ok, on the rsp0 stack
; expect: syscall 2 from CPL3: after sysret 1 cs=002B ss=0023 rflags=00000402, 2 #GPs
; expect: syscall 3 from CPL3: sysret 2 returned rax=FEDCBA9876543210
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"

SYS_RESULT   equ 1                      ; SYSCALL with RAX = function, RBX = argument
SYS_REPORT   equ 2
SYS_DONE     equ 3
USER_CS      equ SEL_UCODE64 | 3
USER_SS      equ SEL_UDATA | 3
USER_RFLAGS  equ 0x002                  ; IF = 0, IOPL = 0
USER_DF      equ 0x402                  ; what CPL3 puts in RFLAGS before syscall 1
EFER_SCE     equ 1 << 0
STAR_MSR     equ 0xc0000081
LSTAR_MSR    equ 0xc0000082
SFMASK_MSR   equ 0xc0000084
SYSRET_BASE  equ SEL_CODE64 | 3         ; SYSRET: SS = base + 8, 64-bit CS = base + 16
SFMASK       equ 0x4700                 ; NT, DF, IF, TF
SYSRET2_RAX  equ 0xfedcba9876543210

%if SYSRET_BASE + 8 != USER_SS || SYSRET_BASE + 16 != USER_CS || SEL_SYSCALL_CS + 8 != SEL_SYSCALL_SS
  %error "GDT layout does not fit SYSCALL/SYSRET"
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
    mov edx, (SYSRET_BASE << 16) | SEL_SYSCALL_CS
    wrmsr
    mov ecx, LSTAR_MSR
    mov rax, syscall_entry
    mov rdx, rax
    shr rdx, 32
    wrmsr
    mov ecx, SFMASK_MSR
    mov eax, SFMASK
    xor edx, edx
    wrmsr

    PRINT "cpl3_syscall: iretq to cs="
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
    push USER_DF                        ; exact RFLAGS for R11: DF set (SFMASK clears it)
    popfq
    mov eax, SYS_RESULT
    syscall
user_after_syscall1:
    pushfq                              ; what SYSRET 1 restored from R11
    pop r12
    mov ax, cs
    movzx r13d, ax
    mov ax, ss
    movzx r14d, ax
    cld
user_gp1:
    cli
user_after_gp1:
    mov ax, SEL_DATA
user_gp2:
    mov ds, ax
user_after_gp2:
    mov eax, SYS_REPORT                 ; R12-R14: the state after SYSRET 1
    syscall
user_after_syscall2:
    mov rbx, rax                        ; what SYSRET 2 brought back
    mov eax, SYS_DONE
    syscall
    jmp $                               ; not reached: SYS_DONE exits

; ---------------------------------------------------------------- CPL 0
; syscall_entry: LSTAR. SYSCALL does not switch stacks: keep the user RSP, use kstack.
syscall_entry:
    mov [user_rsp], rsp
    mov rsp, kstack_top
    pushfq
    pop qword [entry_rflags]
    mov [entry_cs], cs
    mov [entry_ss], ss
    push rcx                            ; SYSRET needs RCX (RIP) and R11 (RFLAGS)
    push r11
    inc dword [syscall_count]
    cmp rax, SYS_RESULT
    je .result
    cmp rax, SYS_REPORT
    je .report
    cmp rax, SYS_DONE
    je .done
    PRINT "syscall: unknown function "
    call put_hex64
    EXPECT_EQ rax, SYS_RESULT
    call put_crlf
    jmp .return

.result:
    PRINT "syscall 1 from CPL3: sum of squares 1..100000 = "
    mov rax, rbx
    call put_hex64
    mov rdx, 333338333350000
    EXPECT_EQ rax, rdx
    call put_crlf
    PRINT "syscall 1 at CPL0: cs="
    movzx eax, word [entry_cs]
    call put_hex16
    EXPECT_EQ eax, SEL_SYSCALL_CS
    PRINT " ss="
    movzx eax, word [entry_ss]
    call put_hex16
    EXPECT_EQ eax, SEL_SYSCALL_SS
    PRINT " rflags="
    mov rax, [entry_rflags]
    call put_hex32
    EXPECT_EQ rax, USER_DF & ~SFMASK
    PRINT " r11="
    mov rax, r11
    call put_hex32
    EXPECT_EQ rax, USER_DF
    mov rdx, user_after_syscall1
    call check_rcx
    PRINT ", user rsp "
    mov rax, [user_rsp]
    mov rdx, ustack_top
    cmp rax, rdx
    je .rsp_kept
    call put_hex64
    EXPECT_EQ rax, rdx
    call put_crlf
    jmp .return
.rsp_kept:
    PRINTLN "kept"
    jmp .return

.report:
    PRINT "syscall 2 from CPL3: after sysret 1 cs="
    mov eax, r13d
    call put_hex16
    EXPECT_EQ eax, USER_CS
    PRINT " ss="
    mov eax, r14d
    call put_hex16
    EXPECT_EQ eax, USER_SS
    PRINT " rflags="
    mov rax, r12
    call put_hex32
    EXPECT_EQ rax, USER_DF
    PRINT ", "
    mov eax, [gp_count]
    call put_dec
    EXPECT_EQ eax, 2
    PRINT " #GPs"
    mov rdx, user_after_syscall2
    call check_rcx
    call put_crlf
    mov rax, SYSRET2_RAX
    jmp .return_rax

.done:
    PRINT "syscall 3 from CPL3: sysret 2 returned rax="
    mov rax, rbx
    call put_hex64
    mov rdx, SYSRET2_RAX
    EXPECT_EQ rax, rdx
    call put_crlf
    mov eax, [syscall_count]
    EXPECT_EQ eax, 3
    TEST_DONE

.return:
    xor eax, eax
.return_rax:
    pop r11
    pop rcx
    mov rsp, [user_rsp]
    o64 sysret

; check_rcx: RDX = the expected return RIP. Syscall 1 prints the result; later ones print
; only a mismatch.
check_rcx:
    mov rax, [rsp + 16]                 ; the RCX pushed at entry (above R11 and our return)
    cmp rax, rdx
    jne .bad
    cmp dword [syscall_count], 1
    jne .quiet
    PRINT ", rcx = return rip"
.quiet:
    ret
.bad:
    PRINT ", rcx="
    call put_hex64
    EXPECT_EQ rax, rdx
    ret

; gp_handler: the Nth #GP must come from gp_table[N].rip at CPL3 with gp_table[N].error,
; on the RSP0 stack; it resumes the user program at gp_table[N].resume.
gp_handler:
    mov ebx, [gp_count]
    cmp ebx, 2
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
    jmp .resume
.on_rsp0:
    PRINTLN ", on the rsp0 stack"
.resume:
    mov rax, [rbx + 16]
    mov [rdi + FRAME64_RIP], rax
    ret
.unexpected:
    PRINT "unexpected #GP error="
    mov rax, [rdi + FRAME64_ERROR]
    call put_hex16
    PRINT " rip="
    mov rax, [rdi + FRAME64_RIP]
    call put_hex64
    call put_crlf
    EXIT EXIT_FAIL

align 8
gp_table:                               ; faulting rip, error code, resume rip
    dq user_gp1, 0, user_after_gp1
    dq user_gp2, SEL_DATA, user_after_gp2

section .bss
gp_count:      resd 1
syscall_count: resd 1
user_rsp:      resq 1
entry_rflags:  resq 1
entry_cs:      resw 1
entry_ss:      resw 1
alignb 16
kstack:        resb 8192
kstack_top:
ustack:        resb 8192
ustack_top:
section .text

IMAGE_END
