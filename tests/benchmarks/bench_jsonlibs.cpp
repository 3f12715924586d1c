// SPDX-License-Identifier: GPL-3.0-or-later
// The measurement behind the choice of the core's JSON library (docs/PERFORMANCE.md, "JSON
// library"): each candidate parses a tokenizer.json into its tree, then every key, string and
// number is visited and strings are copied out, as the tokenizer's loader does.
//
//   bench_jsonlibs FILE...
//
// Columns: best of 5 (Qt: 3) wall milliseconds per file. Built only when nlohmann-json3-dev and
// rapidjson-dev are installed (they are not dependencies of SinkScope itself).
#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <nlohmann/json.hpp>
#include <rapidjson/document.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;
std::size_t g_sink = 0; // keeps the visits from being optimised away

std::string slurp(const char* path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

void take(std::string s)
{
    g_sink += s.size();
}

void visitQt(const QJsonValue& v)
{
    if (v.isObject()) {
        const QJsonObject o = v.toObject();
        for (auto it = o.begin(); it != o.end(); ++it) {
            take(it.key().toStdString());
            visitQt(it.value());
        }
    } else if (v.isArray()) {
        for (const QJsonValue& x : v.toArray())
            visitQt(x);
    } else if (v.isString()) {
        take(v.toString().toStdString());
    } else if (v.isDouble()) {
        g_sink += std::size_t(v.toDouble());
    }
}

void visitNlohmann(const nlohmann::json& j)
{
    if (j.is_object()) {
        for (const auto& [k, v] : j.items()) {
            take(k);
            visitNlohmann(v);
        }
    } else if (j.is_array()) {
        for (const auto& v : j)
            visitNlohmann(v);
    } else if (j.is_string()) {
        take(j.get_ref<const std::string&>());
    } else if (j.is_number()) {
        g_sink += std::size_t(j.get<double>());
    }
}

// nlohmann's SAX interface: no tree at all, strings handed over as they are read.
struct NlohmannSax : nlohmann::json_sax<nlohmann::json> {
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t v) override { g_sink += std::size_t(v); return true; }
    bool number_unsigned(number_unsigned_t v) override { g_sink += std::size_t(v); return true; }
    bool number_float(number_float_t v, const string_t&) override { g_sink += std::size_t(v); return true; }
    bool string(string_t& s) override { take(std::move(s)); return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t& s) override { take(std::move(s)); return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
};

void visitRapid(const rapidjson::Value& v)
{
    if (v.IsObject()) {
        for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
            take(std::string(m->name.GetString(), m->name.GetStringLength()));
            visitRapid(m->value);
        }
    } else if (v.IsArray()) {
        for (const auto& e : v.GetArray())
            visitRapid(e);
    } else if (v.IsString()) {
        take(std::string(v.GetString(), v.GetStringLength()));
    } else if (v.IsNumber()) {
        g_sink += std::size_t(v.GetDouble());
    }
}

void visitSimd(simdjson::dom::element e)
{
    using simdjson::dom::element_type;
    switch (e.type()) {
    case element_type::OBJECT:
        for (const auto field : simdjson::dom::object(e)) {
            take(std::string(field.key));
            visitSimd(field.value);
        }
        break;
    case element_type::ARRAY:
        for (const simdjson::dom::element x : simdjson::dom::array(e))
            visitSimd(x);
        break;
    case element_type::STRING: take(std::string(std::string_view(e))); break;
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: g_sink += std::size_t(double(e)); break;
    default: break;
    }
}

template <class F> double bestMs(F f, int rounds)
{
    double best = 1e30;
    for (int i = 0; i < rounds; ++i) {
        const auto t0 = Clock::now();
        f();
        best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    return best;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_jsonlibs FILE...\n");
        return 2;
    }
    std::printf("%-44s %7s %9s %9s %9s %9s %9s\n", "file", "MB", "qt", "nl-dom", "nl-sax", "rapidjson", "simdjson");
    for (int i = 1; i < argc; ++i) {
        const std::string text = slurp(argv[i]);
        const double qt = bestMs([&] {
            const QJsonDocument d = QJsonDocument::fromJson(QByteArray::fromRawData(text.data(), qsizetype(text.size())));
            visitQt(d.object());
        }, 3);
        const double nlDom = bestMs([&] { visitNlohmann(nlohmann::json::parse(text)); }, 5);
        const double nlSax = bestMs([&] {
            NlohmannSax sax;
            nlohmann::json::sax_parse(text, &sax);
        }, 5);
        const double rapid = bestMs([&] {
            rapidjson::Document d;
            d.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(text.data(), text.size());
            if (d.HasParseError())
                std::abort();
            visitRapid(d);
        }, 5);
        const double simd = bestMs([&] {
            simdjson::dom::parser p;
            simdjson::dom::element root;
            if (p.parse(text.data(), text.size()).get(root))
                std::abort();
            visitSimd(root);
        }, 5);
        std::printf("%-44s %7.2f %9.1f %9.1f %9.1f %9.1f %9.1f\n", argv[i], double(text.size()) / 1e6, qt, nlDom, nlSax,
                    rapid, simd);
    }
    std::fprintf(stderr, "(checksum %zu)\n", g_sink);
    return 0;
}
