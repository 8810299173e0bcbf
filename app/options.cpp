#include "app/options.h"

#include <cctype>
#include <map>
#include <stdexcept>

#include "hw/pc_layout.h"

namespace janus {

namespace {

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

uint64_t parse_number(const std::string& text, const std::string& what) {
  if (text.empty()) fail(what + ": empty value");
  // std::stoull would take "-5" as 2^64-5 and skip leading blanks.
  if (!std::isdigit(static_cast<unsigned char>(text.front()))) fail(what + ": '" + text + "' is not a number");
  size_t used = 0;
  uint64_t v = 0;
  try {
    v = std::stoull(text, &used, 0);
  } catch (const std::exception&) {
    fail(what + ": '" + text + "' is not a number");
  }
  if (used != text.size()) fail(what + ": '" + text + "' is not a number");
  return v;
}

// "a=1,b=2" after the first comma-separated word (QEMU's -device/-accel syntax).
std::map<std::string, std::string> parse_properties(const std::string& text, size_t from, const std::string& what) {
  std::map<std::string, std::string> props;
  while (from < text.size()) {
    size_t comma = text.find(',', from);
    std::string item = text.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    size_t eq = item.find('=');
    if (eq == std::string::npos) fail(what + ": expected key=value, got '" + item + "'");
    props[item.substr(0, eq)] = item.substr(eq + 1);
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return props;
}

DebugExitConfig parse_device(const std::string& spec) {
  std::string name = spec.substr(0, spec.find(','));
  if (name != "isa-debug-exit") fail("-device: unsupported device '" + name + "' (Janus has: isa-debug-exit)");
  DebugExitConfig cfg;
  auto props = parse_properties(spec, spec.find(',') == std::string::npos ? spec.size() : spec.find(',') + 1, "-device isa-debug-exit");
  for (const auto& [k, v] : props) {
    uint64_t n = parse_number(v, "-device isa-debug-exit," + k);
    if (k == "iobase") {
      if (n > 0xffff) fail("-device isa-debug-exit: iobase " + v + " is not a port number");
      cfg.iobase = uint16_t(n);
    } else if (k == "iosize") {
      if (n != 1 && n != 2 && n != 4) fail("-device isa-debug-exit: iosize must be 1, 2 or 4");
      cfg.iosize = uint16_t(n);
    } else {
      fail("-device isa-debug-exit: unknown property '" + k + "'");
    }
  }
  if (uint32_t(cfg.iobase) + cfg.iosize > 0x10000) fail("-device isa-debug-exit: ports run past 0xffff");
  return cfg;
}

AccelChoice parse_accel(const std::string& spec) {
  std::string name = spec.substr(0, spec.find(','));
  if (name != spec) fail("-accel: options are not supported ('" + spec + "')");
  if (name == "kvm") return AccelChoice::kKvm;
  if (name == "tcg") return AccelChoice::kTcg;
  if (name == "auto") return AccelChoice::kAuto;
  if (name == "cross") return AccelChoice::kCross;
  fail("-accel: unknown accelerator '" + name + "' (use kvm, tcg, cross or auto)");
}

}  // namespace

uint64_t parse_memory_size(const std::string& input) {
  std::string text = input;
  if (text.rfind("size=", 0) == 0) text = text.substr(5);
  if (text.empty()) fail("-m: empty size");
  uint64_t shift = 20;  // a bare number is MiB, as in QEMU
  if (!std::isdigit(static_cast<unsigned char>(text.front()))) fail("-m: '" + input + "' is not a size");
  char suffix = char(std::toupper(static_cast<unsigned char>(text.back())));
  if (std::isalpha(static_cast<unsigned char>(suffix))) {
    switch (suffix) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      default: fail("-m: unknown size suffix in '" + input + "'");
    }
    text.pop_back();
  }
  size_t used = 0;
  uint64_t n = 0;
  try {
    n = std::stoull(text, &used, 10);
  } catch (const std::exception&) {
    fail("-m: '" + input + "' is not a size");
  }
  if (used != text.size()) fail("-m: '" + input + "' is not a size");
  if (n > (layout::kMaxRamBytes >> shift)) fail("-m: " + input + " is more than Janus supports (64G)");
  uint64_t bytes = n << shift;
  if (bytes < layout::kMinRamBytes) fail("-m: " + input + " is too little memory (need at least 8M)");
  return bytes;
}

Options parse_options(const std::vector<std::string>& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a.rfind("--", 0) == 0) a = a.substr(1);  // QEMU accepts --flag as -flag
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) fail(a + ": missing argument");
      return args[++i];
    };
    if (a == "-h" || a == "-help") o.show_help = true;
    else if (a == "-version") o.show_version = true;
    else if (a == "-accel") o.accel = parse_accel(value());
    else if (a == "-enable-kvm") o.accel = AccelChoice::kKvm;
    else if (a == "-m") o.ram_bytes = parse_memory_size(value());
    else if (a == "-smp") {
      const std::string& v = value();
      std::string n = v.substr(0, v.find(','));
      if (n.rfind("cpus=", 0) == 0) n = n.substr(5);
      if (parse_number(n, "-smp") != 1) fail("-smp: Janus runs one CPU for now (got '" + v + "')");
    }
    else if (a == "-kernel") o.kernel = value();
    else if (a == "-initrd") o.initrd = value();
    else if (a == "-append") o.append = value();
    else if (a == "-bios") o.bios = value();
    else if (a == "-serial") {
      const std::string& v = value();
      if (v == "stdio" || v == "mon:stdio") o.serial = SerialTarget::kStdio;
      else if (v == "none" || v == "null") o.serial = SerialTarget::kNone;
      else fail("-serial: unsupported backend '" + v + "' (use stdio or none)");
    }
    else if (a == "-nographic") { o.display = DisplayKind::kNone; o.serial = SerialTarget::kStdio; }
    else if (a == "-display") {
      const std::string& v = value();
      std::string name = v.substr(0, v.find(','));
      if (name == "none") o.display = DisplayKind::kNone;
      else if (name == "sdl") o.display = DisplayKind::kSdl;
      else fail("-display: unsupported display '" + v + "' (use sdl or none)");
    }
    else if (a == "-no-reboot") o.no_reboot = true;
    else if (a == "-device") o.debug_exit = parse_device(value());
    else if (a == "-boot-timer") o.boot_timer = true;
    else if (a == "-stats") o.stats = true;
    else if (a == "-cross-report") o.cross_report = value();
    else if (a == "-cross-limit") {
      o.cross_limit = parse_number(value(), "-cross-limit");
      if (o.cross_limit == 0) fail("-cross-limit: the instruction count must be at least 1");
    }
    else if (a == "-cross-inject-fault") o.cross_inject_fault = parse_number(value(), "-cross-inject-fault");
    else if (!a.empty() && a[0] == '-') fail("unknown option '" + args[i] + "' (see janus -help)");
    else fail("unexpected argument '" + a + "' (a disk image? Janus has no disks yet; see janus -help)");
  }
  if (!o.initrd.empty() && o.kernel.empty()) fail("-initrd needs -kernel");
  if (!o.append.empty() && o.kernel.empty()) fail("-append needs -kernel");
  if ((!o.cross_report.empty() || o.cross_limit || o.cross_inject_fault) && o.accel != AccelChoice::kCross)
    fail("-cross-report, -cross-limit and -cross-inject-fault need -accel cross");
  return o;
}

std::string usage_text() {
  return R"(usage: janus [options]
Runs an x86 PC guest on KVM or on Janus's software CPU. Options follow QEMU's names.

  -accel kvm|tcg|auto   backend (default auto: KVM when it runs kernel code natively, else tcg)
  -accel cross          cross-check: KVM leads, the software CPU follows instruction by
                        instruction; the first divergence is reported (exit status 3)
  -cross-report FILE    with -accel cross: also write the result as JSON to FILE
  -cross-limit N        with -accel cross: compare the first N instructions, then exit
                        (status 0 when they agree) without running the guest further
  -enable-kvm           same as -accel kvm
  -m SIZE               guest RAM: 256 (MiB), 256M, 2G (default 128M, at least 8M)
  -smp 1                one CPU (the only choice for now)
  -kernel FILE          Linux bzImage or Multiboot v1 kernel
  -initrd FILE          initramfs for Linux; comma-separated module list for Multiboot
  -append CMDLINE       kernel command line
  -bios FILE            firmware image mapped below 4 GiB; the CPU starts at F000:FFF0
  -serial stdio|none    where COM1 goes (default stdio; Ctrl-A x quits, Ctrl-A h helps)
  -nographic            no display, COM1 on the terminal
  -display none|sdl     display backend
  -no-reboot            exit instead of resetting when the guest reboots
  -device isa-debug-exit[,iobase=N][,iosize=N]
                        a guest write of V to the port exits with status (V << 1) | 1
  -boot-timer           print the guest boot time when it writes 123 to MMIO 0xc0000000
  -stats                print execution statistics when the guest stops
  -help, -version
)";
}

}  // namespace janus
