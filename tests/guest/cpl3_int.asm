; cpl3_int -- software interrupts from user mode in long mode: a TSS with RSP0, an IDT gate
; with DPL 3 for int 0x80, and IRETQ to CPL3 code, which computes a sum of squares and
; returns it with int 0x80. The handler checks the CS and SS RPL the CPU pushed and that it
; runs on the RSP0 stack. Then INT 0x81 through a DPL 0 gate raises #GP at CPL3:
;   error = 0x81 * 8 + 2 (IDT, external = 0)
; The error code is architecturally vector << 3 | 2 also in long mode (Linux logs
; "error:402" for a denied int 0x80 on hardware); QEMU's TCG uses vector << 4 | 2 (its
; 16-byte gate offset), hence the expect-qemu line. The guest does not check it itself, so
; the exit status is the same under both. cpl3.asm covers SYSCALL/SYSRET and the #GPs that
; do not involve INT.
; kvm-host-limit: INT n executed at CPL3 raises #UD under kvm_pvm instead of going through the IDT gate
; boot: multiboot
; expect-exit: 33
; expect: cpl3_int: iretq to cs=002B ss=0023 rflags=00000002
; expect: int 0x80 from CPL3: sum of squares 1..100000 = 00012F2B60F30870, cs rpl=3, ss rpl=3, on the rsp0 stack
; expect: #GP 1 from CPL3: error=040A cs rpl=3 rip ok
; expect-qemu: #GP 1 from CPL3: error=0812 cs rpl=3 rip ok
; expect: int 0x80 from CPL3: done after 1 #GPs
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"

SYS_RESULT   equ 1                      ; int 0x80 with RAX = function, RBX = argument
SYS_DONE     equ 2
USER_CS      equ SEL_UCODE64 | 3
USER_SS      equ SEL_UDATA | 3
USER_RFLAGS  equ 0x002                  ; IF = 0, IOPL = 0

bits 64
main:
    mov rax, kstack_top
    call tss64_init
    SET_ISR64 0x80, syscall_handler
    SET_GATE_DPL64 0x80, 3
    SET_ISR64 13, gp_handler

    PRINT "cpl3_int: iretq to cs="
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
    mov eax, SYS_RESULT
    int 0x80
user_gp1:
    int 0x81
user_after_gp1:
    mov eax, SYS_DONE
    int 0x80
    jmp $                               ; not reached: SYS_DONE exits

; ---------------------------------------------------------------- CPL 0
; syscall_handler: int 0x80 from CPL3 (RDI -> frame).
syscall_handler:
    mov rax, [rdi + FRAME64_RAX]
    cmp rax, SYS_RESULT
    je .result
    cmp rax, SYS_DONE
    je .done
    PRINT "int 0x80: unknown function "
    call put_hex64
    EXPECT_EQ rax, SYS_RESULT
    call put_crlf
    ret

.result:
    PRINT "int 0x80 from CPL3: sum of squares 1..100000 = "
    mov rax, [rdi + FRAME64_RBX]
    call put_hex64
    mov rbx, 333338333350000
    EXPECT_EQ rax, rbx
    PRINT ", cs rpl="
    mov rax, [rdi + FRAME64_CS]
    and eax, 3
    call put_hex4
    EXPECT_EQ eax, 3
    PRINT ", ss rpl="
    mov rax, [rdi + FRAME64_SS]
    and eax, 3
    call put_hex4
    EXPECT_EQ eax, 3
    lea rax, [rdi + FRAME64_SS + 8]     ; top of the interrupt frame = RSP0
    mov rbx, kstack_top
    cmp rax, rbx
    je .on_rsp0
    PRINT ", frame top "
    call put_hex64
    EXPECT_EQ rax, rbx
    call put_crlf
    ret
.on_rsp0:
    PRINTLN ", on the rsp0 stack"
    ret

.done:
    PRINT "int 0x80 from CPL3: done after "
    mov eax, [gp_count]
    call put_dec
    EXPECT_EQ eax, 1
    PRINTLN " #GPs"
    TEST_DONE

; gp_handler: the Nth #GP must come from gp_table[N].rip at CPL3 with gp_table[N].error; it
; resumes the user program at gp_table[N].resume.
gp_handler:
    mov ebx, [gp_count]
    cmp ebx, 1
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
    cmp qword [rbx + 8], -1             ; -1: left to the expect lines (see the header)
    je .error_checked
    EXPECT_EQ rax, [rbx + 8]
.error_checked:
    PRINT " cs rpl="
    mov rax, [rdi + FRAME64_CS]
    and eax, 3
    call put_hex4
    EXPECT_EQ eax, 3
    mov rax, [rdi + FRAME64_RIP]
    cmp rax, [rbx]
    jne .bad_rip
    PRINTLN " rip ok"
    jmp .resume
.bad_rip:
    PRINT " rip="
    call put_hex64
    EXPECT_EQ rax, [rbx]
    call put_crlf
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
    dq user_gp1, -1, user_after_gp1     ; 0x81 * 8 + 2 on hardware, see the header

section .bss
gp_count:   resd 1
alignb 16
kstack:     resb 8192
kstack_top:
ustack:     resb 8192
ustack_top:
section .text

IMAGE_END
