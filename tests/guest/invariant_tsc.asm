; invariant_tsc -- CPUID 0x80000007 EDX[8], invariant TSC: the extended leaves reach 0x80000007 and
; the bit is set, so an OS may take the TSC as constant-rate and running in every state (Linux:
; constant_tsc, nonstop_tsc). The software CPU's TSC is the machine clock at one rate; under
; KVM the bit is the host's (these build hosts have it). QEMU's default CPU model (qemu64) does
; not advertise it: a model difference, not a fault of either.
; boot: multiboot
; expect-exit: 33
; expect: cpuid 80000000 eax >= 80000007: 1
; expect: cpuid 80000007 edx[8] (invariant TSC)=1
; expect-qemu: cpuid 80000007 edx[8] (invariant TSC)=0
; expect: PASS
%include "multiboot.inc"
%include "pm32.inc"

main:
    PRINT "cpuid 80000000 eax >= 80000007: "
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000007
    setae al
    call put_hex4
    EXPECT_EQ al, 1
    call put_crlf

    PRINT "cpuid 80000007 edx[8] (invariant TSC)="
    mov eax, 0x80000007
    xor ecx, ecx
    cpuid
    mov eax, edx
    shr eax, 8
    and eax, 1
    call put_hex4
    call put_crlf
    TEST_DONE

IMAGE_END
