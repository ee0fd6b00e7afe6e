#include "io/json_line.h"

#include <simdjson.h>

namespace encore::io {

struct JsonLineParser::Impl {
  simdjson::ondemand::parser parser;
  std::string padded;
};

JsonLineParser::JsonLineParser() : impl_(std::make_unique<Impl>()) {}
JsonLineParser::~JsonLineParser() = default;

namespace {

// The text of one value (see the header), or an error.
simdjson::error_code ValueText(simdjson::ondemand::value v, std::string* out, bool* nested) {
  *nested = false;
  simdjson::ondemand::json_type type;
  if (auto err = v.type().get(type)) return err;
  switch (type) {
    case simdjson::ondemand::json_type::string: {
      std::string_view s;
      if (auto err = v.get_string().get(s)) return err;
      out->assign(s);
      return simdjson::SUCCESS;
    }
    case simdjson::ondemand::json_type::number:
    case simdjson::ondemand::json_type::boolean: {
      std::string_view s = v.raw_json_token();
      while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
      out->assign(s);
      if (type == simdjson::ondemand::json_type::boolean) {
        bool b;
        return v.get_bool().get(b);
      }
      double d;
      return v.get_double().get(d);
    }
    case simdjson::ondemand::json_type::null: {
      bool is_null = false;
      out->clear();
      return v.is_null().get(is_null);
    }
    default: {
      std::string_view s;
      simdjson::error_code err;
      if (type == simdjson::ondemand::json_type::object) {
        simdjson::ondemand::object o;
        err = v.get_object().get(o);
        if (!err) err = o.raw_json().get(s);
      } else {
        simdjson::ondemand::array a;
        err = v.get_array().get(a);
        if (!err) err = a.raw_json().get(s);
      }
      out->assign(s);
      *nested = true;
      return err;
    }
  }
}

}  // namespace

bool JsonLineParser::Parse(std::string_view line,
                           std::vector<std::pair<std::string, std::string>>* fields,
                           std::vector<std::string>* nested_keys, std::string* error) {
  fields->clear();
  nested_keys->clear();
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  std::string& padded = impl_->padded;
  padded.assign(line.data(), line.size());
  padded.resize(line.size() + simdjson::SIMDJSON_PADDING, ' ');
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  auto err = impl_->parser.iterate(padded.data(), line.size(), padded.size()).get(doc);
  if (!err) err = doc.get_object().get(obj);
  if (!err) {
    std::string text;
    for (auto field : obj) {
      std::string_view key;
      if ((err = field.unescaped_key().get(key))) break;
      simdjson::ondemand::value v;
      if ((err = field.value().get(v))) break;
      bool nested = false;
      if ((err = ValueText(v, &text, &nested))) break;
      if (nested) nested_keys->emplace_back(key);
      bool replaced = false;
      for (auto& kv : *fields) {
        if (kv.first == key) {
          kv.second = text;  // a repeated key: the last value wins
          replaced = true;
        }
      }
      if (!replaced) fields->emplace_back(std::string(key), text);
    }
  }
  if (!err && doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    err = simdjson::TRAILING_CONTENT;  // e.g. two objects on one line
  }
  if (err) {
    *error = simdjson::error_message(err);
    return false;
  }
  return true;
}

}  // namespace encore::io
