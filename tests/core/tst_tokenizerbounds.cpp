// SPDX-License-Identifier: GPL-3.0-or-later
// Work bounds of the tokenizer: WordPiece's per-word work (a 4,000-character word under a huge
// max_input_chars_per_word took 43 s), the number of chained Sequence passes, the prompt size
// limit, stopping once the result would be refused (also before a huge word), cancellation, and
// the regex passes' time budget and backtracking limit. Expected token ids come
// from the constructed vocabularies (and an independent greedy longest-match in the test).
#include "sinkscope/error.h"
#include "sinkscope/fileio.h"
#include "sinkscope/tokenizer.h"

#include <QElapsedTimer>
#include <QtTest>

#include <map>
#include <random>

using namespace sinkscope;

namespace {

std::string wordPieceJson(const std::string& vocab, long long maxChars)
{
    return R"({"pre_tokenizer":{"type":"WhitespaceSplit"},"model":{"type":"WordPiece","unk_token":"[UNK]",)"
           R"("continuing_subword_prefix":"##","max_input_chars_per_word":)"
           + std::to_string(maxChars) + R"(,"vocab":)" + vocab + "}}";
}

std::vector<int32_t> ids(const Encoding& e)
{
    return e.ids();
}

// The reference's WordPiece, written plainly: longest match first from each position, the whole
// word [UNK] when a position matches nothing.
std::vector<int32_t> naiveWordPiece(const std::string& word, const std::map<std::string, int32_t>& vocab, int32_t unk)
{
    std::vector<int32_t> out;
    size_t start = 0;
    while (start < word.size()) {
        size_t end = word.size();
        int32_t found = -1;
        for (; end > start; --end) {
            const std::string piece = (start ? "##" : "") + word.substr(start, end - start);
            const auto it = vocab.find(piece);
            if (it != vocab.end()) {
                found = it->second;
                break;
            }
        }
        if (found < 0)
            return {unk};
        out.push_back(found);
        start = end;
    }
    return out;
}

} // namespace

class TestTokenizerBounds : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void wordPieceLongWordIsFast();
    void wordPieceMatchesGreedyReference();
    void wordPieceMaxCharsGivesUnk();
    void sequenceStepsCapped();
    void promptSizeLimit();
    void stopsOnceRefused();
    void cancellable();
    void regexTimeBudget();
    void regexEngineGivesUp();
    void hugeWordNotTokenizedWhenRefused();
};

void TestTokenizerBounds::wordPieceLongWordIsFast()
{
    const auto tok = Tokenizer::fromJson(wordPieceJson(R"({"[UNK]":0,"a":1,"##a":2,"ab":3})", 1000000));
    QElapsedTimer timer;
    timer.start();
    const Encoding e = tok->encode(std::string(4000, 'a'));
    const qint64 ms = timer.elapsed();
    std::vector<int32_t> want(4000, 2);
    want[0] = 1;
    QCOMPARE(ids(e), want);
    QVERIFY2(ms < 2000, qPrintable(QString("%1 ms for a 4,000-character word").arg(ms)));
}

void TestTokenizerBounds::wordPieceMatchesGreedyReference()
{
    // Pieces up to 4 characters over {a, b}; random words of up to 60 characters.
    std::map<std::string, int32_t> vocab{{"[UNK]", 0}};
    std::string json = "{\"[UNK]\":0";
    std::mt19937 rng(7);
    for (int len = 1; len <= 4; ++len)
        for (int k = 0; k < (1 << len); ++k) {
            if (rng() % 3 == 0)
                continue; // holes, so some words need [UNK]
            std::string p;
            for (int i = 0; i < len; ++i)
                p += (k >> i) & 1 ? 'b' : 'a';
            for (const std::string& s : {p, "##" + p}) {
                const int32_t id = int32_t(vocab.size());
                vocab[s] = id;
                json += ",\"" + s + "\":" + std::to_string(id);
            }
        }
    json += "}";
    const auto tok = Tokenizer::fromJson(wordPieceJson(json, 1000));
    for (int trial = 0; trial < 200; ++trial) {
        std::string word(1 + rng() % 60, 'a');
        for (char& c : word)
            c = rng() % 2 ? 'b' : 'a';
        QCOMPARE(ids(tok->encode(word)), naiveWordPiece(word, vocab, 0));
    }
}

void TestTokenizerBounds::wordPieceMaxCharsGivesUnk()
{
    // As the reference: a word longer than max_input_chars_per_word is one [UNK].
    const auto tok = Tokenizer::fromJson(wordPieceJson(R"({"[UNK]":0,"a":1,"##a":2})", 5));
    QCOMPARE(ids(tok->encode("aaaaa aaaaaa")), (std::vector<int32_t>{1, 2, 2, 2, 2, 0}));
}

void TestTokenizerBounds::sequenceStepsCapped()
{
    auto sequence = [](int n) {
        std::string steps;
        for (int i = 0; i < n; ++i)
            steps += std::string(i ? "," : "") + R"({"type":"Lowercase"})";
        return R"({"normalizer":{"type":"Sequence","normalizers":[)" + steps
               + R"(]},"model":{"type":"WordLevel","unk_token":"<unk>","vocab":{"<unk>":0,"a":1}}})";
    };
    QCOMPARE(ids(Tokenizer::fromJson(sequence(64))->encode("A")), std::vector<int32_t>{1});
    try {
        Tokenizer::fromJson(sequence(65));
        QFAIL("65 chained steps were accepted");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Unsupported);
        QCOMPARE(QString(e.what()), "Unsupported tokenizer.json: normalizer Sequence: the Sequence components chain more "
                                    "than 64 steps; each is a pass over the whole prompt.");
    }
    // Nested sequences count together.
    std::string inner;
    for (int i = 0; i < 40; ++i)
        inner += std::string(i ? "," : "") + R"({"type":"Lowercase"})";
    const std::string nested = R"({"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Sequence","pretokenizers":[{"type":"Whitespace"}]}]},)"
                               R"("normalizer":{"type":"Sequence","normalizers":[{"type":"Sequence","normalizers":[)"
                               + inner + R"(]},{"type":"Sequence","normalizers":[)" + inner
                               + R"(]}]},"model":{"type":"WordLevel","unk_token":"<unk>","vocab":{"<unk>":0}}})";
    QVERIFY_THROWS_EXCEPTION(Error, Tokenizer::fromJson(nested));
}

void TestTokenizerBounds::promptSizeLimit()
{
    const auto tok = Tokenizer::fromJson(wordPieceJson(R"({"[UNK]":0,"a":1,"##a":2})", 100));
    try {
        tok->encode(std::string(limits::kPromptBytes + 1, 'a'));
        QFAIL("a prompt past the size limit was tokenized");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::InvalidArgument);
        QCOMPARE(QString(e.what()), "The prompt is 4194305 bytes; a prompt may have at most 4194304 bytes (4 MiB).");
    }
}

void TestTokenizerBounds::stopsOnceRefused()
{
    const auto tok = Tokenizer::fromJson(wordPieceJson(R"({"[UNK]":0,"a":1,"##a":2})", 100));
    std::string text;
    for (int i = 0; i < 1000; ++i)
        text += "a ";
    bool stopped = false;
    EncodeLimits lim;
    lim.stopAfter = 10;
    lim.stoppedEarly = &stopped;
    const Encoding cut = tok->encode(text, BosPolicy::Auto, lim);
    QVERIFY(stopped);
    QCOMPARE(cut.tokens.size(), size_t(11));
    stopped = false;
    lim.stopAfter = 1000;
    QCOMPARE(tok->encode(text, BosPolicy::Auto, lim).tokens.size(), size_t(1000));
    QVERIFY(!stopped);
}

void TestTokenizerBounds::cancellable()
{
    const auto tok = Tokenizer::fromJson(wordPieceJson(R"({"[UNK]":0,"a":1,"##a":2})", 100));
    std::atomic<bool> cancel{true};
    EncodeLimits lim;
    lim.cancel = &cancel;
    try {
        tok->encode("a a a", BosPolicy::Auto, lim);
        QFAIL("a cancelled encode finished");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::Cancelled);
        QCOMPARE(QString(e.what()), "The run was cancelled.");
    }
    cancel = false;
    QCOMPARE(tok->encode("a a a", BosPolicy::Auto, lim).tokens.size(), size_t(3));
}

namespace {

// A Split whose look-ahead scans to the end of the word for every character: n^2 / 2 steps.
std::string lookAheadJson(const std::string& regex)
{
    return R"({"pre_tokenizer":{"type":"Split","pattern":{"Regex":")" + regex
           + R"("},"behavior":"Isolated","invert":false},"model":{"type":"WordLevel","unk_token":"[UNK]",)"
             R"("vocab":{"[UNK]":0,"a":1,"1":2,"b":3}}})";
}

} // namespace

void TestTokenizerBounds::regexTimeBudget()
{
    const auto tok = Tokenizer::fromJson(lookAheadJson(R"(\\w(?=\\w*\\d))"));
    // On a short text the pattern isolates every character followed (anywhere later) by a digit.
    QCOMPARE(ids(tok->encode("aaa1")), (std::vector<int32_t>{1, 1, 1, 2}));
    // 200,000 characters would take about 2 * 10^10 steps; with a 50 ms budget the encode stops
    // within a few checks (every 256 matches) instead.
    setRegexTimeBudgetForTesting(0.05);
    QElapsedTimer timer;
    timer.start();
    try {
        tok->encode(std::string(200000, 'a') + "1");
        setRegexTimeBudgetForTesting(0);
        QFAIL("the pathological pass ran to its end");
    } catch (const Error& e) {
        setRegexTimeBudgetForTesting(0);
        QCOMPARE(e.code(), ErrorCode::InvalidArgument);
        QCOMPARE(QString(e.what()),
                 "Tokenizing stopped: the regular expressions of pre_tokenizer Split have run for more than 0.05 s on "
                 "this prompt (a look-ahead pattern costs time growing with the square of a long word). Shorten the "
                 "prompt, break up its long words, or use another tokenizer.");
    }
    QVERIFY2(timer.elapsed() < 5000, qPrintable(QString::number(timer.elapsed()) + " ms"));
    // The budget belongs to one encode: the next one starts from nothing.
    QCOMPARE(ids(tok->encode("aa1")), (std::vector<int32_t>{1, 1, 2}));
}

void TestTokenizerBounds::regexEngineGivesUp()
{
    // Nested quantifiers that can never match "a...ab": exponential backtracking, which the
    // regex engine abandons at its match limit. Before, that silently meant "no match".
    const auto tok = Tokenizer::fromJson(lookAheadJson(R"((a+)+$)"));
    QCOMPARE(ids(tok->encode("aab")), (std::vector<int32_t>{0})); // no match: the piece "aab" is unknown
    try {
        tok->encode(std::string(40, 'a') + "b");
        QFAIL("an abandoned match passed as no match");
    } catch (const Error& e) {
        QCOMPARE(e.code(), ErrorCode::InvalidArgument);
        QCOMPARE(QString(e.what()),
                 "Tokenizing stopped: the regular expression of pre_tokenizer Split gave up on this prompt after "
                 "character 0 of a piece (the regex engine's backtracking limit). Shorten the prompt, break up its "
                 "long words, or use another tokenizer.");
    }
}

void TestTokenizerBounds::hugeWordNotTokenizedWhenRefused()
{
    // BPE without a pre-tokenizer: the whole prompt is one word. The longest piece has 2
    // characters, so n characters give at least ceil(n / 2) tokens ("aa" x n/2 exactly here).
    const auto tok = Tokenizer::fromJson(R"({"model":{"type":"BPE","vocab":{"a":0,"aa":1},"merges":["a a"]}})");
    bool stopped = false;
    EncodeLimits lim;
    lim.stopAfter = 10;
    lim.stoppedEarly = &stopped;
    lim.refuseBeyond = true;
    // 20 characters: at least 10 tokens, which is not past the limit, so the word is tokenized.
    QCOMPARE(ids(tok->encode(std::string(20, 'a'), BosPolicy::Auto, lim)), std::vector<int32_t>(10, 1));
    QVERIFY(!stopped);
    // 21 characters: at least 11 tokens (in fact 10 x "aa" + "a"), past the limit: not tokenized.
    QCOMPARE(tok->encode(std::string(21, 'a'), BosPolicy::Auto, lim).tokens.size(), size_t(0));
    QVERIFY(stopped);
    // A 4 MiB word is refused the same way, without the merges over 4 million symbols.
    stopped = false;
    QCOMPARE(tok->encode(std::string(limits::kPromptBytes, 'a'), BosPolicy::Auto, lim).tokens.size(), size_t(0));
    QVERIFY(stopped);
    // A caller that keeps the first tokens gets them exactly, from the whole word.
    stopped = false;
    lim.refuseBeyond = false;
    QCOMPARE(ids(tok->encode(std::string(21, 'a'), BosPolicy::Auto, lim)),
             (std::vector<int32_t>{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0}));
    QVERIFY(stopped);
}

QTEST_GUILESS_MAIN(TestTokenizerBounds)
#include "tst_tokenizerbounds.moc"
