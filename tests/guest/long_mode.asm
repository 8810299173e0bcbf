; long_mode -- from Multiboot's 32-bit state to 64-bit long mode (PAE 4-level tables with
; 2 MiB pages, EFER.LME, CR0.PG, far jump to a 64-bit CS), then 64-bit arithmetic, RIP-
; relative addressing, memory high in RAM through the identity map, and a #DE caught by a
; 64-bit IDT gate.
; boot: multiboot
; expect-exit: 33
; expect: long_mode: multiboot magic 2BADB002
; expect: cs=0018 efer.lma=1 cr4.pae=1 cr0.pg=1
; expect: mul 123456789ABCDEF0*0FEDCBA987654321 = 0121FA00AD77D7422236D88FE5618CF0
; expect: div FEDCBA9876543210FEDCBA98/0000000123456789 = E000000084200001 rem 000000004677530F
; expect: imul -81985529216486895*-3 = 0369D0369D0369CD
; expect: movsxd -5 = FFFFFFFFFFFFFFFB, rol 8000000000000001,4 = 0000000000000018
; expect: rip-relative lea ok
; expect: RAM at 0x3F00000: 0123456789ABCDEF
; expect: #DE caught: vector 00, resumed after the div
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"

bits 64
main:
    PRINT "long_mode: multiboot magic "
    mov eax, [multiboot_magic]
    call put_hex32
    EXPECT_EQ eax, MB_BOOT_MAGIC
    call put_crlf

    PRINT "cs="
    mov ax, cs
    call put_hex16
    EXPECT_EQ ax, SEL_CODE64
    PRINT " efer.lma="
    mov ecx, EFER_MSR
    rdmsr
    shr eax, 10
    and eax, 1
    call put_hex4
    EXPECT_EQ eax, 1
    PRINT " cr4.pae="
    mov rax, cr4
    shr eax, 5
    and eax, 1
    call put_hex4
    EXPECT_EQ eax, 1
    PRINT " cr0.pg="
    mov rax, cr0
    shr eax, 31
    call put_hex4
    EXPECT_EQ eax, 1
    call put_crlf

    ; --- 64 x 64 -> 128-bit multiply ---
    mov rax, 0x123456789abcdef0
    mov rcx, 0x0fedcba987654321
    mul rcx
    PRINT "mul 123456789ABCDEF0*0FEDCBA987654321 = "
    xchg rax, rdx
    call put_hex64
    mov rbx, 0x0121fa00ad77d742
    EXPECT_EQ rax, rbx
    xchg rax, rdx
    call put_hex64
    mov rbx, 0x2236d88fe5618cf0
    EXPECT_EQ rax, rbx
    call put_crlf

    ; --- 128 / 64-bit divide ---
    mov rdx, 0x00000000fedcba98
    mov rax, 0x76543210fedcba98
    mov rcx, 0x123456789
    div rcx
    PRINT "div FEDCBA9876543210FEDCBA98/0000000123456789 = "
    call put_hex64
    mov rbx, 0xe000000084200001
    EXPECT_EQ rax, rbx
    PRINT " rem "
    mov rax, rdx
    call put_hex64
    EXPECT_EQ rax, 0x4677530f
    call put_crlf

    ; --- signed multiply, sign extension, rotate ---
    mov rax, -81985529216486895         ; -0x0123456789ABCDEF
    imul rax, rax, -3
    PRINT "imul -81985529216486895*-3 = "
    call put_hex64
    mov rbx, 0x0369d0369d0369cd
    EXPECT_EQ rax, rbx
    call put_crlf

    mov ecx, -5
    movsxd rax, ecx
    PRINT "movsxd -5 = "
    call put_hex64
    EXPECT_EQ rax, -5
    mov rax, 0x8000000000000001
    rol rax, 4
    PRINT ", rol 8000000000000001,4 = "
    call put_hex64
    EXPECT_EQ rax, 0x18
    call put_crlf

    ; --- RIP-relative addressing ---
    lea rax, [rel rip_target]
    mov rbx, rip_target
    cmp rax, rbx
    jne .rip_bad
    PRINTLN "rip-relative lea ok"
    jmp .rip_done
.rip_bad:
    PRINT "rip-relative lea "
    call put_hex64
    EXPECT_EQ rax, rbx
    call put_crlf
.rip_done:

    ; --- memory near the top of the 64 MiB of RAM, through a 2 MiB page ---
    mov rax, 0x0123456789abcdef
    mov [0x3f00000], rax
    PRINT "RAM at 0x3F00000: "
    mov rax, [0x3f00000]
    call put_hex64
    mov rbx, 0x0123456789abcdef
    EXPECT_EQ rax, rbx
    call put_crlf

    ; --- #DE through the IDT: the handler resumes after the faulting DIV ---
    SET_ISR64 0, de_handler
    mov byte [de_seen], 0xff
    xor ecx, ecx
    mov eax, 1
de_fault:
    div ecx
de_resume:
    PRINT "#DE caught: vector "
    movzx eax, byte [de_seen]
    call put_hex8
    EXPECT_EQ al, 0
    PRINTLN ", resumed after the div"

    TEST_DONE

de_handler:
    mov rax, [rdi + FRAME64_VECTOR]
    mov [de_seen], al
    mov rax, [rdi + FRAME64_RIP]
    mov rbx, de_fault
    cmp rax, rbx                        ; #DE is a fault: RIP points at the DIV
    je .ok
    mov byte [de_seen], 0xee
.ok:
    mov rax, de_resume
    mov [rdi + FRAME64_RIP], rax
    ret

rip_target:
    dq 0

section .bss
de_seen: resb 1
section .text

IMAGE_END
