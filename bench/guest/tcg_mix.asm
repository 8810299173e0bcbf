; tcg_mix -- benchmark guest for the software CPUs (janus -accel tcg vs qemu -accel tcg).
; Multiboot (a.out kludge), long mode, then a deterministic integer workload at CPL3 (so
; that under this host's KVM the same image runs natively, as an oracle), repeated
; ITERATIONS rounds. Each round runs five phases, each seeded by the running checksum:
;   hash    integer mixing: IMUL, 128-bit MUL, shifts, rotates, ADC, LEA, 32/8-bit ops, DIV
;   memory  a 4 MiB array: sequential fill and sum, a page-hopping strided read-modify-write,
;           256 KiB through REP MOVSB (misaligned), REP MOVSQ and a hand-written qword loop
;   sort    quicksort (Hoare) of 16 Ki pseudo-random dwords: data-dependent branches
;   vm      a small register bytecode interpreter: indirect jumps through a dispatch table
;   calls   recursive fib(24), a binary search tree of 8 Ki keys and its recursive walk
; CPL3 ends with HLT, a #GP that returns to CPL0, which prints each phase's checksum and the
; total on COM1 and exits through isa-debug-exit with EXIT_PASS (status 33). EXIT_FAIL (35):
; an unexpected exception, an unsorted buffer or a wrong fib(24). The checksums themselves
; are compared across emulators by bench/tcg_vs_qemu.sh.
; Integer instructions only. nasm -DITERATIONS=n shortens or lengthens the run.
; boot: multiboot
%include "multiboot.inc"
%include "long_mode.inc"

%ifndef ITERATIONS
%define ITERATIONS 20
%endif

USER_CS      equ SEL_UCODE64 | 3
USER_SS      equ SEL_UDATA | 3
USER_RFLAGS  equ 0x002                  ; IOPL 0, IF = 0: HLT at CPL3 is a #GP back to CPL0
VECTOR_GP    equ 13

ARRAY        equ 0x1000000              ; 16 MiB: the memory phase's array (not in the image)
ARRAY_QWORDS equ 512 * 1024             ; 4 MiB
COPY_BUF     equ 0x1800000
COPY_BYTES   equ 256 * 1024
STRIDE       equ 4099                   ; odd: (j + STRIDE) mod 2^k visits every element

HASH_ITERS   equ 400000
DIV_ITERS    equ 20000
SORT_N       equ 16384
VM_LOOPS     equ 8000
FIB_N        equ 24
FIB_VALUE    equ 46368                  ; fib(24)
TREE_N       equ 8192

GOLDEN       equ 0x9e3779b97f4a7c15
LCG_MUL      equ 6364136223846793005
LCG_ADD      equ 1442695040888963407

; MIX acc, value: acc = (acc ^ value) * GOLDEN, then fold the high bits down (clobbers RDX).
%macro MIX 2
    xor %1, %2
    mov rdx, GOLDEN
    imul %1, rdx
    mov rdx, %1
    shr rdx, 31
    xor %1, rdx
%endmacro

; USER_FAIL "message": from CPL3, record why the run failed and go back to CPL0.
%macro USER_FAIL 1
    jmp %%record
%%message: db %1, 0
%%record:
    mov rax, %%message
    mov [failure], rax
    jmp user_halt
%endmacro

bits 64
main:
    PRINTLN "tcg_mix: start"
    mov rax, stack_top                  ; RSP0: the #GP from CPL3 arrives on this stack
    call tss64_init
    SET_ISR64 VECTOR_GP, user_returned
    push USER_SS
    push user_stack_top
    push USER_RFLAGS
    push USER_CS
    push user_main
    iretq

; CPL0, the #GP handler: CPL3 is done (HLT at user_halt). All reporting happens here, since
; port I/O from CPL3 does not work under every KVM.
user_returned:
    mov rax, [rdi + FRAME64_RIP]
    mov rbx, user_halt
    cmp rax, rbx
    jne .unexpected
    mov rsi, [failure]
    test rsi, rsi
    jnz .failed
    PRINT "hash "
    mov rax, [sum_hash]
    call put_hex64
    PRINT " memory "
    mov rax, [sum_memory]
    call put_hex64
    PRINT " sort "
    mov rax, [sum_sort]
    call put_hex64
    call put_crlf
    PRINT "vm "
    mov rax, [sum_vm]
    call put_hex64
    PRINT " calls "
    mov rax, [sum_calls]
    call put_hex64
    call put_crlf
    PRINT "tcg_mix: checksum "
    mov rax, [checksum]
    call put_hex64
    call put_crlf
    EXIT EXIT_PASS
.failed:
    PRINT "tcg_mix: FAIL: "
.message:
    lodsb
    test al, al
    jz .message_done
    call com1_putc
    jmp .message
.message_done:
    call put_crlf
    EXIT EXIT_FAIL
.unexpected:
    PRINT "tcg_mix: FAIL: #GP at rip="
    call put_hex64
    PRINT " error="
    mov rax, [rdi + FRAME64_ERROR]
    call put_hex32
    call put_crlf
    EXIT EXIT_FAIL

; ---------------------------------------------------------------- CPL 3
user_main:
    mov r12d, ITERATIONS
    mov r13, 0x243f6a8885a308d3         ; the running checksum
.round:
    mov rdi, r13
    call phase_hash
    add [sum_hash], rax
    MIX r13, rax
    mov rdi, r13
    call phase_memory
    add [sum_memory], rax
    MIX r13, rax
    mov rdi, r13
    call phase_sort
    add [sum_sort], rax
    MIX r13, rax
    mov rdi, r13
    call phase_vm
    add [sum_vm], rax
    MIX r13, rax
    mov rdi, r13
    call phase_calls
    add [sum_calls], rax
    MIX r13, rax
    dec r12d
    jnz .round
    mov [checksum], r13
user_halt:
    hlt                                 ; #GP: to user_returned at CPL0
    jmp user_halt

; ---------------------------------------------------------------- integer arithmetic
; phase_hash: RDI = seed -> RAX.
phase_hash:
    push rbx
    mov rax, rdi
    mov r8, rdi
    not r8
    xor r9d, r9d
    mov ebx, 0x1234567
    mov ecx, HASH_ITERS
.loop:
    imul rax, rax, 0x5bd1e995
    mov r10, rax
    shr r10, 24
    xor rax, r10
    add r8, rax
    rol r8, 13
    lea r9, [r9 + r8 * 4 + 7]
    sub r9, rcx
    cmp r9d, ebx                        ; CF from a 32-bit compare feeds the ADC
    adc rax, r9
    mov r11, rax
    mul r8                              ; RDX:RAX = RAX * R8
    xor rax, rdx
    add rax, r11
    add ebx, eax                        ; 32-bit op: zero-extends into RBX
    movzx r10d, al
    add bl, r10b                        ; 8-bit op: merges into RBX
    sar r11, 5
    sub r8, r11
    dec ecx
    jnz .loop
    ; a short run of 64-bit divisions
    mov r10, rax
    mov r11, r8
    shr r11, 16                         ; divisors stay far from wrapping to 0
    or r11, 1
    mov ecx, DIV_ITERS
.div:
    xor edx, edx
    mov rax, r10
    div r11
    add r10, rdx
    add r10, rax
    inc r11
    dec ecx
    jnz .div
    mov rax, r10
    xor rax, r9
    add rax, rbx
    pop rbx
    ret

; ---------------------------------------------------------------- memory
; phase_memory: RDI = seed -> RAX.
phase_memory:
    mov r11, rdi
    ; sequential fill, two qwords per iteration
    mov rsi, ARRAY
    xor ecx, ecx
    mov rax, rdi
    mov r8, GOLDEN
.fill:
    add rax, r8
    mov [rsi + rcx * 8], rax
    mov r9, rax
    xor r9, rcx
    mov [rsi + rcx * 8 + 8], r9
    add ecx, 2
    cmp ecx, ARRAY_QWORDS
    jb .fill
    ; sequential read
    xor eax, eax
    xor edx, edx
    xor ecx, ecx
.sum:
    add rax, [rsi + rcx * 8]
    xor rdx, [rsi + rcx * 8 + 8]
    add rax, [rsi + rcx * 8 + 16]
    sub rdx, [rsi + rcx * 8 + 24]
    add ecx, 4
    cmp ecx, ARRAY_QWORDS
    jb .sum
    ; strided read-modify-write: every element once, 32 KiB apart (a new page each time)
    mov ecx, r11d
    and ecx, ARRAY_QWORDS - 1
    mov r10d, ARRAY_QWORDS
.stride:
    mov r9, [rsi + rcx * 8]
    add r9, rax
    xor r9, rcx
    mov [rsi + rcx * 8], r9
    add rdx, r9
    add ecx, STRIDE
    and ecx, ARRAY_QWORDS - 1
    dec r10d
    jnz .stride
    mov r8, rax
    mov r9, rdx
    ; REP MOVSB, source and destination misaligned differently
    mov rsi, ARRAY + 5
    mov rdi, COPY_BUF + 3
    mov ecx, COPY_BYTES
    rep movsb
    ; REP MOVSQ back into the array
    mov rsi, COPY_BUF
    mov rdi, ARRAY + 0x200000
    mov ecx, COPY_BYTES / 8
    rep movsq
    ; hand-written copy loop, 32 bytes per iteration
    mov rsi, ARRAY + 0x200000
    mov rdi, ARRAY + 0x100000
    mov ecx, COPY_BYTES / 32
.copy:
    mov rax, [rsi]
    mov rdx, [rsi + 8]
    mov r10, [rsi + 16]
    mov r11, [rsi + 24]
    mov [rdi], rax
    mov [rdi + 8], rdx
    mov [rdi + 16], r10
    mov [rdi + 24], r11
    add rsi, 32
    add rdi, 32
    dec ecx
    jnz .copy
    ; sample the copies: one qword per KiB
    mov rsi, ARRAY + 0x100000
    mov ecx, COPY_BYTES / 1024
    mov rax, r8
.sample:
    xor rax, [rsi]
    rol rax, 7
    add rax, [rsi + 0x100000 + 512]
    add rsi, 1024
    dec ecx
    jnz .sample
    add rax, r9
    ret

; ---------------------------------------------------------------- sort
; phase_sort: RDI = seed -> RAX. Fills the buffer from an LCG, sorts it, hashes it in order.
phase_sort:
    mov rax, rdi
    mov r8, LCG_MUL
    mov r9, LCG_ADD
    xor ecx, ecx
.fill:
    imul rax, r8
    add rax, r9
    mov rdx, rax
    shr rdx, 33
    mov [sort_buf + rcx * 4], edx
    inc ecx
    cmp ecx, SORT_N
    jb .fill
    mov rdi, sort_buf
    mov rsi, sort_buf + (SORT_N - 1) * 4
    call quicksort
    ; hash in order; count descents (0 when sorted) into the hash as well
    xor eax, eax
    xor edx, edx
    xor ecx, ecx
    xor r8d, r8d                        ; previous element
.hash:
    mov r9d, [sort_buf + rcx * 4]
    cmp r9d, r8d
    jae .ordered
    inc edx
.ordered:
    mov r8d, r9d
    imul rax, rax, 31
    add rax, r9
    inc ecx
    cmp ecx, SORT_N
    jb .hash
    test edx, edx
    jnz .unsorted
    ret
.unsorted:
    USER_FAIL "quicksort left the buffer unsorted"

; quicksort: RDI = first, RSI = last element (inclusive) of an array of unsigned dwords.
quicksort:
    cmp rdi, rsi
    jae .done
    mov rax, rsi
    sub rax, rdi
    shr rax, 3                          ; half the element count, rounded down
    mov r8d, [rdi + rax * 4]            ; pivot: the middle element
    lea rcx, [rdi - 4]
    lea rdx, [rsi + 4]
.next_i:
    add rcx, 4
    cmp [rcx], r8d
    jb .next_i
.next_j:
    sub rdx, 4
    cmp [rdx], r8d
    ja .next_j
    cmp rcx, rdx
    jae .split
    mov eax, [rcx]
    mov r9d, [rdx]
    mov [rcx], r9d
    mov [rdx], eax
    jmp .next_i
.split:                                 ; [first, j] and [j + 1, last]
    push rsi
    push rdx
    mov rsi, rdx
    call quicksort
    pop rdi
    add rdi, 4
    pop rsi
    jmp quicksort
.done:
    ret

; ---------------------------------------------------------------- bytecode interpreter
; Instructions are 4 bytes: opcode, a, b, imm8 (signed). Registers r0..r7 and 256 qwords
; of memory live in RAM. Branch targets are relative to the branch, in instructions.
VM_HALT equ 0
VM_MOVI equ 1                           ; ra = imm
VM_ADD  equ 2                           ; ra += rb
VM_SUB  equ 3                           ; ra -= rb
VM_MUL  equ 4                           ; ra *= rb
VM_XOR  equ 5                           ; ra ^= rb
VM_SHRI equ 6                           ; ra >>= imm
VM_SHLI equ 7                           ; ra <<= imm
VM_ANDI equ 8                           ; ra &= imm
VM_MOV  equ 9                           ; ra = rb
VM_DEC  equ 10                          ; ra -= 1
VM_JZ   equ 11                          ; if ra == 0: pc += imm
VM_JNZ  equ 12                          ; if ra != 0: pc += imm
VM_LD   equ 13                          ; ra = mem[rb & 255]
VM_ST   equ 14                          ; mem[rb & 255] = ra
VM_OPS  equ 15

%macro VM 4
    db %1, %2, %3, %4
%endmacro

; phase_vm: RDI = seed -> RAX. r0 = seed, r1 = loop count; the program is an xorshift
; generator whose low bit picks one of two paths, with loads and stores in VM memory.
phase_vm:
    push rbx
    xor eax, eax
    mov ecx, 8
    mov rbx, vm_regs
.clear:
    mov [rbx + rcx * 8 - 8], rax
    dec ecx
    jnz .clear
    mov [rbx], rdi
    mov qword [rbx + 8], VM_LOOPS
    mov rsi, vm_program
.dispatch:
    movzx eax, byte [rsi]
    movzx ecx, byte [rsi + 1]
    movzx edx, byte [rsi + 2]
    movsx r8, byte [rsi + 3]
    add rsi, 4
    jmp [vm_dispatch + rax * 8]
.op_movi:
    mov [rbx + rcx * 8], r8
    jmp .dispatch
.op_add:
    mov rax, [rbx + rdx * 8]
    add [rbx + rcx * 8], rax
    jmp .dispatch
.op_sub:
    mov rax, [rbx + rdx * 8]
    sub [rbx + rcx * 8], rax
    jmp .dispatch
.op_mul:
    mov rax, [rbx + rcx * 8]
    imul rax, [rbx + rdx * 8]
    mov [rbx + rcx * 8], rax
    jmp .dispatch
.op_xor:
    mov rax, [rbx + rdx * 8]
    xor [rbx + rcx * 8], rax
    jmp .dispatch
.op_shri:
    xchg rcx, r8                        ; count in CL
    shr qword [rbx + r8 * 8], cl
    jmp .dispatch
.op_shli:
    xchg rcx, r8
    shl qword [rbx + r8 * 8], cl
    jmp .dispatch
.op_andi:
    and [rbx + rcx * 8], r8
    jmp .dispatch
.op_mov:
    mov rax, [rbx + rdx * 8]
    mov [rbx + rcx * 8], rax
    jmp .dispatch
.op_dec:
    dec qword [rbx + rcx * 8]
    jmp .dispatch
.op_jz:
    cmp qword [rbx + rcx * 8], 0
    jne .dispatch
    lea rsi, [rsi + r8 * 4 - 4]
    jmp .dispatch
.op_jnz:
    cmp qword [rbx + rcx * 8], 0
    je .dispatch
    lea rsi, [rsi + r8 * 4 - 4]
    jmp .dispatch
.op_ld:
    movzx edx, byte [rbx + rdx * 8]
    mov rax, [vm_memory + rdx * 8]
    mov [rbx + rcx * 8], rax
    jmp .dispatch
.op_st:
    movzx edx, byte [rbx + rdx * 8]
    mov rax, [rbx + rcx * 8]
    mov [vm_memory + rdx * 8], rax
    jmp .dispatch
.op_halt:
    mov rax, [rbx + 3 * 8]
    xor rax, [rbx]
    add rax, [rbx + 5 * 8]
    pop rbx
    ret

align 8
vm_dispatch:
    dq phase_vm.op_halt, phase_vm.op_movi, phase_vm.op_add, phase_vm.op_sub
    dq phase_vm.op_mul, phase_vm.op_xor, phase_vm.op_shri, phase_vm.op_shli
    dq phase_vm.op_andi, phase_vm.op_mov, phase_vm.op_dec, phase_vm.op_jz
    dq phase_vm.op_jnz, phase_vm.op_ld, phase_vm.op_st
vm_dispatch_end:
    times VM_OPS * 8 - (vm_dispatch_end - vm_dispatch) db 0  ; assembly fails if the table is
    times (vm_dispatch_end - vm_dispatch) - VM_OPS * 8 db 0  ; longer or shorter than VM_OPS

vm_program:
    VM VM_MOV,  2, 0, 0                 ;  0 loop: xorshift64 on r0
    VM VM_SHLI, 2, 0, 13                ;  1
    VM VM_XOR,  0, 2, 0                 ;  2
    VM VM_MOV,  2, 0, 0                 ;  3
    VM VM_SHRI, 2, 0, 7                 ;  4
    VM VM_XOR,  0, 2, 0                 ;  5
    VM VM_MOV,  2, 0, 0                 ;  6
    VM VM_SHLI, 2, 0, 17                ;  7
    VM VM_XOR,  0, 2, 0                 ;  8
    VM VM_MOV,  4, 0, 0                 ;  9
    VM VM_ANDI, 4, 0, 1                 ; 10
    VM VM_JZ,   4, 0, 5                 ; 11 -> 16
    VM VM_ADD,  3, 0, 0                 ; 12 odd: r3 += r0
    VM VM_MOVI, 6, 0, 3                 ; 13
    VM VM_MUL,  3, 6, 0                 ; 14 r3 *= 3
    VM VM_JNZ,  6, 0, 3                 ; 15 -> 18 (r6 = 3: always taken)
    VM VM_SUB,  3, 1, 0                 ; 16 even: r3 -= r1
    VM VM_ST,   3, 0, 0                 ; 17 mem[r0] = r3
    VM VM_LD,   5, 1, 0                 ; 18 r5 = mem[r1]
    VM VM_ADD,  3, 5, 0                 ; 19
    VM VM_DEC,  1, 0, 0                 ; 20
    VM VM_JNZ,  1, 0, -21               ; 21 -> 0
    VM VM_HALT, 0, 0, 0                 ; 22

; ---------------------------------------------------------------- calls
; phase_calls: RDI = seed -> RAX. fib(FIB_N), then a BST of TREE_N LCG keys (duplicates
; counted in their node) and an order-sensitive recursive walk of it.
phase_calls:
    push rbx
    push r12
    push r13
    mov r12, rdi
    mov edi, FIB_N
    call fib
    cmp rax, FIB_VALUE
    jne .bad_fib
    mov r13, rax
    ; build the tree; nodes are key, left, right, count (32 bytes)
    mov qword [tree_root], 0
    mov rbx, tree_nodes                 ; next free node
    mov rax, r12
    mov ecx, TREE_N
.insert:
    mov r8, LCG_MUL
    imul rax, r8
    mov r8, LCG_ADD
    add rax, r8
    mov rdx, rax
    shr rdx, 52                         ; 12-bit keys: some duplicates
    mov rsi, tree_root                  ; RSI -> the link to follow
.descend:
    mov rdi, [rsi]
    test rdi, rdi
    jz .new_node
    cmp rdx, [rdi]
    je .duplicate
    lea rsi, [rdi + 8]                  ; left link
    jb .descend
    lea rsi, [rdi + 16]                 ; right link
    jmp .descend
.duplicate:
    inc qword [rdi + 24]
    jmp .inserted
.new_node:
    mov [rbx], rdx
    xor edi, edi
    mov [rbx + 8], rdi
    mov [rbx + 16], rdi
    mov qword [rbx + 24], 1
    mov [rsi], rbx
    add rbx, 32
.inserted:
    dec ecx
    jnz .insert
    mov rdi, [tree_root]
    call tree_walk
    add rax, r13
    pop r13
    pop r12
    pop rbx
    ret
.bad_fib:
    USER_FAIL "wrong fib(24)"

; fib: EDI = n -> RAX = fib(n), naively recursive.
fib:
    cmp edi, 2
    jb .base
    push rbx
    mov ebx, edi
    lea edi, [rbx - 1]
    call fib
    push rax
    lea edi, [rbx - 2]
    call fib
    pop rcx
    add rax, rcx
    pop rbx
    ret
.base:
    mov eax, edi
    ret

; tree_walk: RDI = node (0: empty) -> RAX, a hash of the in-order key sequence and counts.
tree_walk:
    test rdi, rdi
    jz .empty
    push rbx
    push r12
    mov rbx, rdi
    mov rdi, [rbx + 8]
    call tree_walk
    imul r12, rax, 31
    add r12, [rbx]
    imul r12, [rbx + 24]
    mov rdi, [rbx + 16]
    call tree_walk
    lea rax, [rax + r12 * 2 + 1]
    pop r12
    pop rbx
    ret
.empty:
    mov eax, 1
    ret

section .bss
alignb 8
sum_hash:       resq 1
sum_memory:     resq 1
sum_sort:       resq 1
sum_vm:         resq 1
sum_calls:      resq 1
checksum:       resq 1
failure:        resq 1                  ; 0, or the message of a failed self-check
vm_regs:        resq 8
vm_memory:      resq 256
tree_root:      resq 1
alignb 32
tree_nodes:     resb TREE_N * 32
alignb 64
sort_buf:       resd SORT_N
alignb 16
                resb 65536
user_stack_top:
section .text

IMAGE_END
