// encore rollback: make an older kept snapshot of a store current again, or
// list the kept snapshots.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "encore/store.h"
#include "util/time_format.h"

namespace encore::cli {

namespace {

void PrintSnapshots(const std::vector<SnapshotInfo>& snapshots) {
  std::printf("%-10s %-21s %s\n", "snapshot", "created", "current");
  for (const SnapshotInfo& s : snapshots) {
    std::printf("%-10llu %-21s %s\n", static_cast<unsigned long long>(s.version),
                FormatUtcTime(s.created_unix).c_str(), s.current ? "*" : "");
  }
}

}  // namespace

Command RegisterRollback(CLI::App& root) {
  CLI::App* app = root.add_subcommand(
      "rollback", "Make an older snapshot of a serving store current again (servers follow)");
  struct Flags {
    std::string store;
    uint64_t to = 0;
    bool list = false;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("--store", f->store, "Serving store: a directory or redis://HOST:PORT/DB")
      ->required();
  app->add_option("--to", f->to,
                  "Snapshot to make current (default: the newest kept one older than the "
                  "current one)");
  app->add_flag("--list", f->list, "Only list the kept snapshots");
  return {app, [f] {
            auto store = Store::OpenExisting(f->store);
            if (!store.ok()) return PrintError(store.status());
            Store& s = **store;
            auto kept = s.List();
            if (!kept.ok()) return PrintError(kept.status());
            if (f->list) {
              PrintSnapshots(*kept);
              return kExitOk;
            }
            auto current = s.CurrentVersion();
            if (!current.ok()) return PrintError(current.status());
            uint64_t target = f->to;
            if (target == 0) {
              for (const SnapshotInfo& info : *kept) {
                if (info.version < *current) target = info.version;
              }
              if (target == 0) {
                PrintSnapshots(*kept);
                return PrintError(Status::FailedPrecondition(
                    "nothing to roll back to: snapshot " + std::to_string(*current) +
                    " is the oldest kept in " + f->store + "; use --to VERSION to pick another"));
              }
            } else if (target == *current) {
              std::printf("snapshot %llu of %s is already current\n",
                          static_cast<unsigned long long>(target), f->store.c_str());
              PrintSnapshots(*kept);
              return kExitOk;
            }
            if (Status st = s.SetCurrent(target); !st.ok()) return PrintError(st);
            std::printf("rolled back %s from snapshot %llu to snapshot %llu\n", f->store.c_str(),
                        static_cast<unsigned long long>(*current),
                        static_cast<unsigned long long>(target));
            auto after = s.List();
            if (!after.ok()) return PrintError(after.status());
            PrintSnapshots(*after);
            return kExitOk;
          }};
}

}  // namespace encore::cli
