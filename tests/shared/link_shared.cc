// Links against libencore.so alone (no static archive) and runs the facade
// end to end: the input option table, loading input, the evaluation
// protocol, train-and-save and recommend-to-file. CTest runs it as
// `shared_library`; it prints what failed and exits 1.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "encore/evaluate.h"
#include "encore/input.h"
#include "encore/workflow.h"

namespace {

int failures = 0;

void Expect(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}

}  // namespace

int main() {
  using namespace encore;
  char tmpl[] = "/tmp/encore_shared_XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (dir == nullptr) return 1;
  const std::string base = dir;
  {
    std::ofstream f(base + "/r.csv");
    f << "user,item,event\n";
    for (int u = 0; u < 20; ++u) {
      for (int i = 0; i < 6; ++i) {
        f << "u" << u << ",i" << (u + i) % 9 << "," << (i % 2 ? "view" : "buy") << "\n";
      }
    }
  }
  Expect(!InputOptionTable().empty(), "the input option table is empty");
  InputOptions input;
  input.files = {base + "/r.csv"};
  Expect(SetInputOption(&input, "weights", "view=1,buy=3").ok(), "weights");
  Expect(!SetInputOption(&input, "format", "parquet").ok(), "a bad format is an error");
  ReadReport report;
  Result<Dataset> data = LoadInput(input, &report);
  Expect(data.ok(), "LoadInput: " + (data.ok() ? "" : data.status().message()));
  if (!data.ok()) return 1;
  Expect(data->users.size() == 20, "20 users");

  EvaluationProtocol protocol;
  Result<EvaluationRun> run =
      RunEvaluation("popularity", ModelParams{}, *data, Feedback::kImplicit, protocol);
  Expect(run.ok(), "RunEvaluation: " + (run.ok() ? "" : run.status().message()));
  if (run.ok()) {
    Expect(run->summary.result.metrics == DefaultMetrics(Feedback::kImplicit),
           "the default metrics");
  }

  TrainReport trained_report;
  Result<TrainedModel> model =
      TrainAndSave("popularity", ModelParams{}, *data, base + "/m.model", &trained_report);
  Expect(model.ok(), "TrainAndSave");
  Expect(trained_report.file_bytes > 0, "the model file was written");
  if (model.ok()) {
    RecommendRequest request;
    request.n = 3;
    Result<BatchReport> written = RecommendToFile(*model, request, base + "/recs.csv");
    Expect(written.ok() && written->rows == 60, "RecommendToFile writes 20 x 3 rows");
  }
  std::remove((base + "/r.csv").c_str());
  std::remove((base + "/m.model").c_str());
  std::remove((base + "/recs.csv").c_str());
  ::rmdir(dir);
  if (failures == 0) std::printf("libencore.so: ok\n");
  return failures == 0 ? 0 : 1;
}
