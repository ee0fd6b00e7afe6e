// postgres_text: connection-string redaction and COPY escaping, without a
// server (postgres_output_test.cc covers the output against a real one).
// Most cases were found by src/pipeline/pipeline_text_fuzz.cc.

#include "pipeline/postgres_text.h"

#include <gtest/gtest.h>

#include <string>

namespace encore::pipeline {
namespace {

bool Hides(const std::string& conninfo, const std::string& password) {
  const Conninfo info = ParseConninfo(conninfo);
  const std::string message = "FATAL: password \"" + password + "\" rejected";
  return info.where.find(password) == std::string::npos &&
         Scrub(message, info.secrets).find(password) == std::string::npos;
}

TEST(ParseConninfo, ShowsWhereButNotThePassword) {
  const Conninfo kv = ParseConninfo("host=db port=5432 dbname=recs user=encore password=Sekr1t");
  EXPECT_EQ(kv.where, "host=db port=5432 dbname=recs user=encore");
  EXPECT_TRUE(Hides("host=db password=Sekr1t", "Sekr1t"));
  EXPECT_TRUE(Hides("host=db password = 'Se kr\\'1t'", "Se kr'1t"));
  EXPECT_TRUE(Hides("postgresql://encore:Se%40kr1t@db/recs", "Se@kr1t"));
  EXPECT_TRUE(Hides("postgresql://encore@db/recs?password=Sekr1t", "Sekr1t"));
  // A user name equal to the password is masked in "where" too.
  EXPECT_EQ(ParseConninfo("user=Sekr1t password=Sekr1t").where, "user=********");
}

// Found by pipeline_text_fuzz: libpq reads a connection string as a C
// string, so its password ends at a NUL byte; the secret taken here ran on
// past it and so did not mask what libpq sends.
TEST(ParseConninfo, PasswordEndsAtNulAsForLibpq) {
  const std::string conninfo("host=db password=Sekr1t\0tail user=x", 35);
  EXPECT_TRUE(Hides(conninfo, "Sekr1t"));
}

// Found by pipeline_text_fuzz: libpq drops a backslash that ends the
// string; the secret taken here kept it and so did not mask what libpq sends.
TEST(ParseConninfo, FinalBackslashIsNotPartOfThePassword) {
  EXPECT_TRUE(Hides("host=db password=Sekr1t\\", "Sekr1t"));
  EXPECT_TRUE(Hides("user=Sekr1t password=Sekr1t\\", "Sekr1t"));
}

// Found by pipeline_text_fuzz: libpq ends a URI's user info at the first
// '@' before any '/', so a password may hold an unencoded '?'; the query was
// split off first here, and the start of such a password shown as the host.
TEST(ParseConninfo, UriPasswordWithQuestionMark) {
  const std::string conninfo = "postgresql://encore:what?now@db/recs";
  EXPECT_TRUE(Hides(conninfo, "what?now"));
  EXPECT_EQ(ParseConninfo(conninfo).where, "host=db dbname=recs user=encore");
}

// Found by pipeline_text_fuzz: with an unencoded '@' in the password libpq
// takes the text up to the first '@' as the password (and the rest as the
// host); only the text up to the last '@' was hidden. Both are now.
TEST(ParseConninfo, UriPasswordWithAt) {
  const std::string conninfo = "postgresql://encore:Se@kr1t@db/recs";
  EXPECT_TRUE(Hides(conninfo, "Se"));       // what libpq sends
  EXPECT_TRUE(Hides(conninfo, "Se@kr1t"));  // what the writer meant
}

TEST(Scrub, OneLineWithSecretsMasked) {
  EXPECT_EQ(Scrub("could not connect\n\tto  Sekr1t \r\n", {"Sekr1t", ""}),
            "could not connect to ********");
}

// Found by pipeline_text_fuzz: the masking ran before tabs and line breaks
// became blanks, so a password with a blank ("a b") was shown when the text
// held it with a tab or a line break ("a\tb").
TEST(Scrub, MasksWhatTheOneLineFormMakesOfASecret) {
  EXPECT_EQ(Scrub("FATAL: se\tcret", {"se cret"}), "FATAL: ********");
  EXPECT_EQ(Scrub("FATAL: se \n cret", {"se cret"}), "FATAL: ********");
}

// Found by pipeline_text_fuzz (as a timeout): each secret was masked in
// the text the previous ones had masked, so a secret of stars grew every
// star of the earlier masks into a mask of its own, eightfold per secret.
TEST(Scrub, SecretsOfStarsDoNotGrowTheMasks) {
  std::string conninfo = "host=a password=a";
  for (int i = 0; i < 3; ++i) conninfo += " password=*";
  const Conninfo info = ParseConninfo(conninfo);
  EXPECT_EQ(info.where, "host=********");
  EXPECT_EQ(Scrub("a b", {"a", "*", "*", "*", "*", "*", "*"}), "******** b");
}

// Overlapping secrets are masked as one.
TEST(Scrub, OverlappingSecretsBecomeOneMask) {
  EXPECT_EQ(Scrub("xabcdy", {"abc", "bcd"}), "x********y");
}

TEST(AppendCopyText, EscapesBackslashTabAndLineBreaks) {
  std::string out;
  AppendCopyText("a\tb\\c\nd\re\\N \xc3\xa9", &out);
  EXPECT_EQ(out, "a\\tb\\\\c\\nd\\re\\\\N \xc3\xa9");
}

}  // namespace
}  // namespace encore::pipeline
