; Benchmark guest (Multiboot, a.out kludge): long mode, then the compute loop at CPL3 with
; IOPL 3, which reports through isa-debug-exit (port 0xf4) directly from user mode.
; Exit status: 33 when the checksum matches the one the native run printed (passed in at build
; time as EXPECTED), 35 otherwise.
bits 32
org 0x100000
ITERATIONS equ 1500000000

mb_header:
    dd 0x1BADB002, 0x00010003, -(0x1BADB002 + 0x00010003)
    dd mb_header, mb_header, image_end, bss_end, entry32

entry32:
    ; Identity-map 1 GiB with 2 MiB user pages.
    mov edi, pml4
    mov dword [edi], pdpt + 7
    mov dword [pdpt], pd + 7
    xor ecx, ecx
.map:
    mov eax, ecx
    shl eax, 21
    or eax, 0x87
    mov [pd + ecx*8], eax
    inc ecx
    cmp ecx, 512
    jne .map
    mov eax, pml4
    mov cr3, eax
    mov eax, cr4
    or eax, 1 << 5                ; PAE
    mov cr4, eax
    mov ecx, 0xc0000080
    rdmsr
    or eax, 1 << 8                ; LME
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | 1
    mov cr0, eax
    lgdt [gdt_ptr]
    jmp 0x08:entry64

bits 64
entry64:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, stack_top
    ; TSS with RSP0 so a fault at CPL3 has a kernel stack.
    mov rax, tss
    mov [gdt + 0x28 + 2], ax
    shr rax, 16
    mov [gdt + 0x28 + 4], al
    mov [gdt + 0x28 + 7], ah
    mov ax, 0x28
    ltr ax
    ; IRETQ to CPL3 with IOPL 3.
    push 0x23                     ; SS: user data
    push user_stack_top
    push 0x3002                   ; RFLAGS: IOPL 3, IF 0
    push 0x1b                     ; CS: user 64-bit code
    push user_main
    iretq

user_main:
    mov rcx, ITERATIONS
    call compute_loop
    mov rbx, EXPECTED
    cmp rax, rbx
    mov eax, 0x10                 ; status 33: checksum matches the native run
    je .report
    mov eax, 0x11                 ; status 35: mismatch
.report:
    out 0xf4, eax
.hang:
    jmp .hang

%include "compute_loop.inc"

align 8
gdt:
    dq 0
    dq 0x00af9b000000ffff         ; 0x08 kernel code 64
    dq 0x00cf93000000ffff         ; 0x10 kernel data
    dq 0x00affb000000ffff         ; 0x18 user code 64
    dq 0x00cff3000000ffff         ; 0x20 user data
    dq 0x0000890000000067, 0      ; 0x28 TSS (base patched at run time)
gdt_end:
gdt_ptr:
    dw gdt_end - gdt - 1
    dq gdt

align 16
tss:
    dd 0
    dq stack_top                  ; RSP0
    times 0x68 - 12 db 0

align 4096
image_end:
absolute image_end                ; the rest is bss: zeroed by the loader, not in the file
pml4:  resb 4096
pdpt:  resb 4096
pd:    resb 4096
table: resb 16384
       resb 8192
stack_top:
       resb 8192
user_stack_top:
bss_end:
