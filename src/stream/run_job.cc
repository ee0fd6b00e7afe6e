// RunStreamJob (encore/stream.h): the one workflow behind `encore stream`,
// whether its settings come from flags or a pipeline's [stream] section.

#include <optional>

#include "encore/input.h"
#include "encore/obfuscate.h"
#include "encore/stream.h"

namespace encore {

Status RunStreamJob(const StreamJob& job, ConsumerStats* stats) {
  if (job.store.empty()) {
    return Status::InvalidArgument(
        "no store: give --store DIR|redis://HOST:PORT/DB or [stream] store");
  }
  for (const std::string& field : job.obfuscate) {
    if (field != "user" && field != "item") {
      return Status::InvalidArgument("obfuscate '" + field +
                                     "': live events can obfuscate user and item");
    }
  }
  const ConsumerOptions& c = job.consumer;
  if (!c.redis_uri.empty() && c.stream_key.empty()) {
    return Status::InvalidArgument("--redis needs --stream KEY ([stream] stream)");
  }
  std::optional<Obfuscator> obfuscator;
  if (!job.obfuscate.empty()) {
    InputOptions key;
    key.obfuscation_key_file = job.obfuscation_key_file;
    key.obfuscation_key_env = job.obfuscation_key_env;
    ENCORE_ASSIGN_OR_RETURN(Obfuscator o, LoadObfuscator(key));
    obfuscator.emplace(std::move(o));
  }
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::OpenExisting(job.store));
  ConsumerOptions options = c;
  if (!c.redis_uri.empty()) {
    if (job.dead_letter.empty()) {
      options.dead_letter_stream = c.stream_key + ":dead";
    } else if (job.dead_letter != "none") {
      options.dead_letter_stream = job.dead_letter;
    }
    if (options.dead_letter_stream == c.stream_key) {
      return Status::InvalidArgument("--dead-letter '" + job.dead_letter +
                                     "' is the event stream itself; rejected entries would be "
                                     "read again. Give another key, e.g. " +
                                     c.stream_key + ":dead");
    }
  }
  options.schema.obfuscate = job.obfuscate;
  options.schema.obfuscator = obfuscator ? &*obfuscator : nullptr;
  return RunConsumer(store.get(), job.speed, options, stats);
}

}  // namespace encore
