#include "tcg/x87_forms.h"

namespace janus::tcg::x87 {

namespace {

Form host(uint8_t size = 0, bool store = false) { return Form{FormKind::kHost, size, store}; }
Form control(FormKind k, bool waiting) {
  Form f{k};
  f.waiting = waiting;
  return f;
}

// Memory forms: opcode D8+op, ModRM.reg r.
Form memory_form(unsigned op, unsigned r) {
  switch (op) {
    case 0: return host(4);  // FADD..FDIVR m32fp
    case 2: return host(4);  // FIADD..FIDIVR m32int
    case 4: return host(8);  // m64fp
    case 6: return host(2);  // m16int
    case 1:
      switch (r) {
        case 0: return host(4);                           // FLD m32fp
        case 2: case 3: return host(4, true);             // FST(P) m32fp
        case 4: return control(FormKind::kFldenv, true);
        case 5: return host(2);                           // FLDCW (waiting: checked on the host)
        case 6: return control(FormKind::kFnstenv, false);
        case 7: return control(FormKind::kFnstcw, false);
        default: return {};
      }
    case 3:
      switch (r) {
        case 0: return host(4);                           // FILD m32int
        case 1: { Form f = host(4, true); f.needs_sse3 = true; return f; }  // FISTTP m32int
        case 2: case 3: return host(4, true);             // FIST(P) m32int
        case 5: return host(10);                          // FLD m80fp
        case 7: return host(10, true);                    // FSTP m80fp
        default: return {};
      }
    case 5:
      switch (r) {
        case 0: return host(8);                           // FLD m64fp
        case 1: { Form f = host(8, true); f.needs_sse3 = true; return f; }  // FISTTP m64int
        case 2: case 3: return host(8, true);             // FST(P) m64fp
        case 4: return control(FormKind::kFrstor, true);
        case 6: return control(FormKind::kFnsave, false);
        case 7: return control(FormKind::kFnstswMem, false);
        default: return {};
      }
    default:  // 7
      switch (r) {
        case 0: return host(2);                           // FILD m16int
        case 1: { Form f = host(2, true); f.needs_sse3 = true; return f; }  // FISTTP m16int
        case 2: case 3: return host(2, true);             // FIST(P) m16int
        case 4: return host(10);                          // FBLD
        case 5: return host(8);                           // FILD m64int
        case 6: return host(10, true);                    // FBSTP
        default: return host(8, true);                    // FISTP m64int
      }
  }
}

// Register forms: opcode D8+op, ModRM C0..FF.
Form register_form(unsigned op, uint8_t modrm) {
  unsigned r = (modrm >> 3) & 7;
  switch (op) {
    case 0: case 4: return host();  // arithmetic ST0,ST(i) / ST(i),ST0 (DC D0/D8: FCOM2/FCOMP3)
    case 1:
      switch (r) {
        case 0: case 1: case 3: return host();            // FLD, FXCH, FSTP1
        case 2: return modrm == 0xd0 ? host() : Form{};   // FNOP
        case 4: return (modrm == 0xe0 || modrm == 0xe1 || modrm == 0xe4 || modrm == 0xe5) ? host() : Form{};
        case 5: return modrm == 0xef ? Form{} : host();   // FLD1 .. FLDZ
        default: return host();                           // F2XM1 .. FCOS
      }
    case 2:
      if (r < 4) return host();                           // FCMOVB/E/BE/U
      return modrm == 0xe9 ? host() : Form{};             // FUCOMPP
    case 3:
      if (r < 4) return host();                           // FCMOVNB/NE/NBE/NU
      if (r == 4) {
        switch (modrm) {
          case 0xe0: case 0xe1: case 0xe4: return control(FormKind::kNop, false);
          case 0xe2: return control(FormKind::kFnclex, false);
          case 0xe3: return control(FormKind::kFninit, false);
          default: return {};
        }
      }
      if (r == 5 || r == 6) { Form f = host(); f.sets_eflags = true; return f; }  // FUCOMI, FCOMI
      return {};
    case 5:
      return r < 6 ? host() : Form{};                     // FFREE FXCH4 FST FSTP FUCOM FUCOMP
    case 6:
      if (r == 3) return modrm == 0xd9 ? host() : Form{};  // FCOMPP
      return host();                                      // FADDP.. (DE D0: FCOMP5)
    default:  // 7
      if (r < 4) return host();                           // FFREEP FXCH7 FSTP8 FSTP9
      if (r == 4) return modrm == 0xe0 ? control(FormKind::kFnstswAx, false) : Form{};
      if (r == 5 || r == 6) { Form f = host(); f.sets_eflags = true; return f; }  // FUCOMIP, FCOMIP
      return {};
  }
}

}  // namespace

Form form_of(uint8_t opcode, uint8_t modrm) {
  if (opcode < 0xd8) return {};
  unsigned op = opcode - 0xd8u;
  return (modrm >> 6) == 3 ? register_form(op, modrm) : memory_form(op, (modrm >> 3) & 7);
}

}  // namespace janus::tcg::x87
