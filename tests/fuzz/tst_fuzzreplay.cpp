// SPDX-License-Identifier: GPL-3.0-or-later
// The in-suite short fuzz run: every committed seed, then a few thousand deterministic mutations
// of them, through the same entry points the libFuzzer targets use. Any exception other than the
// core's Error, or an accepted input that breaks the parser's contract, fails the test.
// SINKSCOPE_FUZZ_ITERATIONS and SINKSCOPE_FUZZ_SEED make longer or different runs.
#include "fuzztargets.h"

#include <QDir>
#include <QFile>
#include <QtTest>

#include <exception>
#include <random>
#include <string>
#include <vector>

using namespace sinkscope::fuzz;

namespace {

using Entry = Outcome (*)(const uint8_t*, std::size_t);

// Tokens a JSON-ish mutation splices in; they reach the parsers' branches faster than random bytes.
const char* const kTokens[] = {
    "{",     "}",          "[",           "]",        ",",         ":",         "\"",        "null",
    "true",  "false",      "0",           "-1",       "1e309",     "1.5",       "4294967296", "18446744073709551616",
    "9223372036854775807", "\"dtype\"",   "\"shape\"", "\"data_offsets\"", "\"F32\"", "\"F16\"", "\"BF16\"",
    "\"I64\"", "\"__metadata__\"", "\"model_type\"", "\"llama\"", "\"mistral\"", "\"qwen2\"", "\"hidden_size\"",
    "\"num_attention_heads\"", "\"num_key_value_heads\"", "\"head_dim\"", "\"rope_scaling\"", "\"rope_type\"",
    "\"type\"", "\"llama3\"", "\"yarn\"", "\"factor\"", "\"sliding_window\"", "\"use_sliding_window\"",
    "\"rope_parameters\"", "\xff", "\xc3", "\\u0000", "  ",
    // tokenizer.json keys and component names
    "\"added_tokens\"", "\"normalizer\"", "\"pre_tokenizer\"", "\"post_processor\"", "\"decoder\"",
    "\"model\"", "\"vocab\"", "\"merges\"", "\"unk_token\"", "\"byte_fallback\"", "\"BPE\"", "\"WordPiece\"",
    "\"WordLevel\"", "\"Unigram\"", "\"Sequence\"", "\"ByteLevel\"", "\"Metaspace\"", "\"Split\"", "\"Regex\"",
    "\"String\"", "\"TemplateProcessing\"", "\"SpecialToken\"", "\"content\"", "\"id\"", "\"lstrip\"",
    "\"special\"", "\"(a|b)*\"", "\"[\"", "\"\\\\p{L}+\"",
    // prompt pieces for the encoder
    "<s>", "</s>", "[SEP]", "<mask>", "\xe2\x96\x81", "\xf0\x9f\x98\x80", "\xcc\x81", "\r\n", "\t", "\xef\xbb\xbf",
};

class Mutator {
public:
    explicit Mutator(uint64_t seed) : m_rng(seed) {}

    std::string mutate(const std::vector<std::string>& corpus)
    {
        std::string s = corpus[pick(corpus.size())];
        const int rounds = 1 + static_cast<int>(pick(4));
        for (int r = 0; r < rounds; ++r)
            mutateOnce(s, corpus);
        return s;
    }

private:
    std::size_t pick(std::size_t n) { return n ? std::uniform_int_distribution<std::size_t>(0, n - 1)(m_rng) : 0; }

    void mutateOnce(std::string& s, const std::vector<std::string>& corpus)
    {
        const std::size_t at = pick(s.size() + 1);
        switch (pick(8)) {
        case 0: // flip a bit
            if (!s.empty())
                s[at % s.size()] = static_cast<char>(s[at % s.size()] ^ (1 << pick(8)));
            break;
        case 1: // overwrite a byte
            if (!s.empty())
                s[at % s.size()] = static_cast<char>(pick(256));
            break;
        case 2: // delete a range
            s.erase(at, 1 + pick(16));
            break;
        case 3: // insert a token
            s.insert(at, kTokens[pick(std::size(kTokens))]);
            break;
        case 4: { // duplicate a range
            const std::string piece = s.substr(at, 1 + pick(32));
            s.insert(pick(s.size() + 1), piece);
            break;
        }
        case 5: { // splice with another seed
            const std::string& other = corpus[pick(corpus.size())];
            s = s.substr(0, at) + other.substr(std::min(other.size(), at));
            break;
        }
        case 6: // truncate
            s.resize(at);
            break;
        default: { // rewrite the 8-byte length prefix near its value (matters for safetensors)
            if (s.size() >= 8) {
                uint64_t n = 0;
                for (int i = 7; i >= 0; --i)
                    n = (n << 8) | static_cast<uint8_t>(s[i]);
                const int64_t delta = static_cast<int64_t>(pick(33)) - 16;
                n = pick(10) == 0 ? (uint64_t(1) << pick(64)) : n + static_cast<uint64_t>(delta);
                for (int i = 0; i < 8; ++i)
                    s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
            }
            break;
        }
        }
        if (s.size() > (1 << 16))
            s.resize(1 << 16);
    }

    std::mt19937_64 m_rng;
};

std::vector<std::string> loadCorpus(const QString& target)
{
    std::vector<std::string> out;
    const QDir dir(QStringLiteral(SINKSCOPE_FUZZ_CORPUS_DIR "/") + target);
    for (const QString& name : dir.entryList(QDir::Files, QDir::Name)) {
        QFile f(dir.filePath(name));
        if (f.open(QIODevice::ReadOnly))
            out.push_back(f.readAll().toStdString());
    }
    return out;
}

uint64_t envNumber(const char* name, uint64_t fallback)
{
    bool ok = false;
    const qulonglong v = qEnvironmentVariable(name).toULongLong(&ok);
    return ok ? v : fallback;
}

} // namespace

Q_DECLARE_METATYPE(Entry)

class TestFuzzReplay : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void replay_data();
    void replay();
};

void TestFuzzReplay::replay_data()
{
    QTest::addColumn<QString>("target");
    QTest::addColumn<Entry>("entry");
    QTest::addColumn<int>("iterations"); // default mutation count; a few seconds per row at most
    QTest::newRow("safetensors_header") << QStringLiteral("safetensors_header") << Entry(&safetensorsHeader) << 20000;
    QTest::newRow("modelconfig") << QStringLiteral("modelconfig") << Entry(&modelConfig) << 20000;
    // An accepted tokenizer.json is also exercised with 27 encodes, so fewer rounds.
    QTest::newRow("tokenizer_json") << QStringLiteral("tokenizer_json") << Entry(&tokenizerJson) << 3000;
    QTest::newRow("tokenizer_encode") << QStringLiteral("tokenizer_encode") << Entry(&tokenizerEncode) << 20000;
}

void TestFuzzReplay::replay()
{
    QFETCH(QString, target);
    QFETCH(Entry, entry);
    QFETCH(int, iterations);
    const std::vector<std::string> corpus = loadCorpus(target);
    QVERIFY2(corpus.size() >= 5, "the committed seed corpus is missing");

    auto run = [&](const std::string& input, const char* phase, std::size_t i) -> Outcome {
        try {
            return entry(reinterpret_cast<const uint8_t*>(input.data()), input.size());
        } catch (const std::exception& e) {
            qWarning("%s input %zu (%zu bytes) threw %s", phase, i, input.size(), e.what());
        } catch (...) {
            qWarning("%s input %zu (%zu bytes) threw a non-standard exception", phase, i, input.size());
        }
        return Outcome::InvariantBroken;
    };

    int accepted = 0, rejected = 0;
    for (std::size_t i = 0; i < corpus.size(); ++i) {
        const Outcome o = run(corpus[i], "seed", i);
        QVERIFY2(o != Outcome::InvariantBroken, qPrintable(QStringLiteral("seed %1 broke the contract").arg(i)));
        (o == Outcome::Accepted ? accepted : rejected)++;
    }
    // Seeds include valid and invalid inputs; if either kind disappears the corpus or parser changed.
    QVERIFY2(accepted > 0, "no seed is accepted any more");
    QVERIFY2(rejected > 0, "no seed is rejected any more");

    const uint64_t rounds = envNumber("SINKSCOPE_FUZZ_ITERATIONS", uint64_t(iterations));
    Mutator mutator(envNumber("SINKSCOPE_FUZZ_SEED", 20240601) + qHash(target));
    int mutatedAccepted = 0;
    for (uint64_t i = 0; i < rounds; ++i) {
        const std::string input = mutator.mutate(corpus);
        const Outcome o = run(input, "mutated", i);
        if (o == Outcome::InvariantBroken) {
            QFile out(QDir::temp().filePath(QStringLiteral("sinkscope-fuzz-%1-%2").arg(target).arg(i)));
            if (out.open(QIODevice::WriteOnly))
                out.write(input.data(), static_cast<qint64>(input.size()));
            QFAIL(qPrintable(QStringLiteral("mutated input %1 broke the contract; saved to %2").arg(i).arg(out.fileName())));
        }
        mutatedAccepted += o == Outcome::Accepted;
    }
    qInfo("%s: %zu seeds (%d accepted), %llu mutations (%d accepted)", qPrintable(target), corpus.size(), accepted,
          static_cast<unsigned long long>(rounds), mutatedAccepted);
}

QTEST_GUILESS_MAIN(TestFuzzReplay)
#include "tst_fuzzreplay.moc"
