// Text handling of the PostgreSQL output that needs no libpqxx: reading a
// libpq connection string (key=value form or URI) for what may be shown of
// it and which texts are secret, masking those secrets in messages, and
// escaping cells for COPY's text format. Kept apart from postgres_output.cc
// so the fuzzer (src/pipeline/pipeline_text_fuzz.cc) can build them alone.
//
// Thread-safety: pure functions.
#ifndef ENCORE_PIPELINE_POSTGRES_TEXT_H_
#define ENCORE_PIPELINE_POSTGRES_TEXT_H_

#include <string>
#include <string_view>
#include <vector>

#include "encore/status.h"

namespace encore::pipeline {

// What the connection string says, minus secrets. Parsed here (libpq's
// grammar, leniently) rather than with PQconninfoParse so that the library
// needs libpqxx only; libpq stays the judge of what is valid.
struct Conninfo {
  std::string where;                 // "host=... port=... dbname=... user=..."
  std::vector<std::string> secrets;  // texts never to show in a message
};

// Reads `conninfo` up to its first NUL byte, as libpq does. The secrets are
// every password libpq may read from it (for URIs raw and percent-decoded,
// and also the text up to the last '@' when an unencoded '@' cuts the
// password short), and whatever follows any "password" as a fallback.
Conninfo ParseConninfo(const std::string& conninfo);

// `text` on one line (tabs and line breaks become blanks, runs of blanks
// collapse, no blank at either end) with every occurrence of a non-empty
// secret, or of its one-line form, replaced by "********" (overlapping or
// adjacent occurrences by a single mask).
std::string Scrub(std::string text, const std::vector<std::string>& secrets);

// The Status for a connection libpq refused, from its (scrubbed) message:
// InvalidArgument when it could not parse the connection string (the
// string is not shown: libpq quotes the piece it choked on, which may be
// part of a password), else IOError with a hint (credentials, or whether
// the server is there). `what` names the user ("PostgreSQL output t"),
// `where` the Conninfo's shown part; `example_db` is the dbname of the
// example in the hint; `failure` says what went wrong ("could not connect").
Status ConnectionFailure(const std::string& what, const std::string& where,
                         const std::string& failure, const std::string& message,
                         const std::string& example_db);

// Appends `cell` in COPY's text format: backslash, tab, LF and CR escaped;
// every other byte (UTF-8 included) as is. Only ASCII bytes are escaped, so
// this is safe for UTF-8, the client encoding the output sets.
void AppendCopyText(std::string_view cell, std::string* out);

}  // namespace encore::pipeline

#endif  // ENCORE_PIPELINE_POSTGRES_TEXT_H_
