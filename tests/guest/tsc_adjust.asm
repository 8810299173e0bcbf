; tsc_adjust -- IA32_TSC_ADJUST (MSR 0x3B) in 64-bit long mode at CPL 0: CPUID 7.EBX[1]
; advertises it; it reads 0 after reset; writing it moves the TSC by the change (Intel SDM vol. 3,
; "Time-Stamp Counter Adjustment"); and a write to the TSC itself (MSR 0x10) moves it by as much
; as the TSC moved. Linux reads it at boot to check the firmware left the TSCs in step.
; qemu-differs: QEMU 7.2's default CPU model (qemu64) does not advertise TSC_ADJUST
; kvm-host-limit: kvm_pvm keeps no TSC offset (the guest reads the host's TSC), so a write to TSC_ADJUST does not move what RDTSC returns
; boot: multiboot
; expect-exit: 33
; expect: cpuid 7 ebx[1] (TSC_ADJUST)=1
; expect: rdmsr 3b after reset: 0000000000000000
; expect: wrmsr 3b = 1<<40: the TSC moved forward by 1<<40 (and under 2^36 more)
; expect: rdmsr 3b: 0000010000000000
; expect: wrmsr 10 = 1000: TSC_ADJUST moved by what the TSC moved (to under 2^36 less)
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"
bits 64

MSR_TSC equ 0x10
MSR_TSC_ADJUST equ 0x3b
SLACK equ 1 << 36                       ; TSC ticks an instruction or two may take (emulated too)

main:
    PRINT "cpuid 7 ebx[1] (TSC_ADJUST)="
    mov eax, 7
    xor ecx, ecx
    cpuid
    mov eax, ebx
    shr eax, 1
    and eax, 1
    call put_hex4
    call put_crlf
    EXPECT_EQ al, 1

    PRINT "rdmsr 3b after reset: "
    mov ecx, MSR_TSC_ADJUST
    rdmsr
    call edx_eax_to_rax
    call put_hex64
    call put_crlf
    EXPECT_EQ rax, 0

    ; TSC before, write the adjustment, TSC after: after - before - 2^40 in [0, SLACK).
    PRINT "wrmsr 3b = 1<<40: "
    rdtsc
    call edx_eax_to_rax
    mov r12, rax
    mov ecx, MSR_TSC_ADJUST
    xor eax, eax
    mov edx, 1 << 8
    wrmsr
    rdtsc
    call edx_eax_to_rax
    sub rax, r12
    mov rbx, 1 << 40
    sub rax, rbx
    mov rbx, SLACK
    cmp rax, rbx
    jae .not_moved
    PRINTLN "the TSC moved forward by 1<<40 (and under 2^36 more)"
    jmp .read_back
.not_moved:
    PRINT "the TSC moved by 1<<40 + "
    call put_hex64
    call put_crlf
    EXPECT_EQ rax, 0
.read_back:
    PRINT "rdmsr 3b: "
    mov ecx, MSR_TSC_ADJUST
    rdmsr
    call edx_eax_to_rax
    mov r13, rax                        ; the adjustment now
    call put_hex64
    call put_crlf
    mov rbx, 1 << 40
    EXPECT_EQ rax, rbx

    ; TSC before the write (t), write TSC = 0x1000: the adjustment becomes
    ; r13 + 0x1000 - (the TSC at the write), which is at most r13 + 0x1000 - t.
    PRINT "wrmsr 10 = 1000: "
    rdtsc
    call edx_eax_to_rax
    mov r12, rax
    mov ecx, MSR_TSC
    mov eax, 0x1000
    xor edx, edx
    wrmsr
    mov ecx, MSR_TSC_ADJUST
    rdmsr
    call edx_eax_to_rax
    mov rbx, r13
    add rbx, 0x1000
    sub rbx, r12                        ; the largest value it can have
    sub rbx, rax                        ; how much less it is: under SLACK
    mov rax, SLACK
    cmp rbx, rax
    jae .not_followed
    PRINTLN "TSC_ADJUST moved by what the TSC moved (to under 2^36 less)"
    jmp .done
.not_followed:
    PRINT "TSC_ADJUST is off by "
    mov rax, rbx
    call put_hex64
    call put_crlf
    EXPECT_EQ rax, 0
.done:
    TEST_DONE

; edx_eax_to_rax: RAX = EDX:EAX.
edx_eax_to_rax:
    shl rdx, 32
    mov eax, eax
    or rax, rdx
    ret

IMAGE_END
