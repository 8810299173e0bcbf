; arch_capabilities -- IA32_ARCH_CAPABILITIES in 64-bit long mode at CPL 0: CPUID 7.EDX[29]
; advertises it; RDMSR 0x10A then reads it without a fault, and the MSR is read-only: WRMSR
; raises #GP(0) at the WRMSR. (The value is the CPU's own, so it is not printed: the software
; CPU's "not affected" bits, or the host's under KVM.)
; qemu-differs: QEMU 7.2's TCG with its default CPU model answers CPUID 7.EDX[29]=0 yet reads and writes MSR 0x10A without #GP
; boot: multiboot
; expect-exit: 33
; expect: cpuid 7 edx[29]=1
; expect: rdmsr 10a: no fault
; expect: wrmsr 10a: #GP(0) at the wrmsr
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"
bits 64

MSR_ARCH_CAPABILITIES equ 0x10a

; TRY label: where the #GP handler resumes if the next instruction faults.
%macro TRY 1
    mov qword [resume], %1
    mov byte [faulted], 0
%endmacro

main:
    SET_ISR64 13, gp_handler
    mov eax, 7
    xor ecx, ecx
    cpuid
    PRINT "cpuid 7 edx[29]="
    mov eax, edx
    shr eax, 29
    and eax, 1
    mov [advertised], al
    call put_hex4
    call put_crlf

    PRINT "rdmsr 10a: "
    TRY .after_read
    mov ecx, MSR_ARCH_CAPABILITIES
    rdmsr
.after_read:
    call print_outcome
    call put_crlf
    mov al, [faulted]
    xor al, 1
    EXPECT_EQ al, [advertised]             ; readable exactly when advertised

    PRINT "wrmsr 10a: "
    TRY .after_write
    mov ecx, MSR_ARCH_CAPABILITIES
    xor eax, eax
    xor edx, edx
.write:
    wrmsr
.after_write:
    call print_outcome
    EXPECT_EQ byte [faulted], 1
    mov rax, [fault_rip]
    cmp rax, .write
    jne .elsewhere
    PRINTLN " at the wrmsr"
    jmp .done
.elsewhere:
    PRINTLN " elsewhere"
    EXPECT_EQ rax, .write
.done:
    TEST_DONE

; print_outcome: "no fault" or "#GP(<error code>)".
print_outcome:
    cmp byte [faulted], 0
    jne .fault
    PRINT "no fault"
    ret
.fault:
    PRINT "#GP("
    mov eax, [fault_error]
    call put_hex4
    PRINT ")"
    ret

gp_handler:
    mov byte [faulted], 1
    mov rax, [rdi + FRAME64_RIP]
    mov [fault_rip], rax
    mov rax, [rdi + FRAME64_ERROR]
    mov [fault_error], eax
    mov rax, [resume]
    mov [rdi + FRAME64_RIP], rax
    ret

section .bss
resume:      resq 1
fault_rip:   resq 1
fault_error: resd 1
faulted:     resb 1
advertised:  resb 1
section .text

IMAGE_END
