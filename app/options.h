// The janus command line, QEMU-compatible where Janus has the feature.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace janus {

enum class AccelChoice { kAuto, kKvm, kTcg, kCross };  // kCross: KVM and tcg in lockstep
enum class SerialTarget { kStdio, kNone };
enum class DisplayKind { kNone, kSdl };

struct DebugExitConfig {
  uint16_t iobase = 0x501;
  uint16_t iosize = 2;
};

struct Options {
  AccelChoice accel = AccelChoice::kAuto;
  uint64_t ram_bytes = 128ull << 20;  // QEMU's default -m
  std::string kernel, initrd, append, bios;
  SerialTarget serial = SerialTarget::kStdio;
  DisplayKind display = DisplayKind::kNone;
  bool no_reboot = false;
  bool boot_timer = false;  // print the guest's boot time when it writes the boot-timer mark
  bool stats = false;       // print execution statistics on exit
  std::string cross_report;           // -cross-report FILE.json (with -accel cross)
  uint64_t cross_limit = 0;           // -cross-limit N: stop after N compared instructions (0: none)
  uint64_t cross_inject_fault = 0;    // hidden, for tests: tcg corrupts RAX after instruction N
  std::optional<DebugExitConfig> debug_exit;
  bool show_help = false, show_version = false;
};

// Parses argv (without argv[0]). Throws std::invalid_argument with a one-line message that
// names the offending option.
Options parse_options(const std::vector<std::string>& args);

// "-m" values: "256" (MiB), "256M", "1G", "512k", "size=256M".
uint64_t parse_memory_size(const std::string& text);

std::string usage_text();

}  // namespace janus
