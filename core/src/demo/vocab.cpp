// SPDX-License-Identifier: GPL-3.0-or-later
// Vocabularies and tokenizer files of the demo models: a few hundred common English words and
// punctuation, so the sample prompts tokenize into real words. The decoder uses a WordLevel model
// (lower-cased, Whitespace pre-tokenizer, a template that puts <|endoftext|> first, as GPT-2's
// BOS); the encoder uses WordPiece with BERT's normalizer, pre-tokenizer and [CLS] ... [SEP]
// template, plus single letters and "##" pieces so that any lower-case word can be spelled.
#include "demo/demobuild.h"

#include "sinkscope/error.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

namespace sinkscope::demo {

namespace {

const char* const kPunctuation[] = {".", ",", "!", "?", ";", ":", "'", "\"", "(", ")", "-"};

// Common English words; every word of resources/prompts/samples.txt is here.
const char* const kWords[] = {
    "the", "a", "an", "and", "or", "but", "if", "then", "so", "because", "of", "to", "in", "on", "at", "by",
    "for", "with", "from", "into", "over", "under", "up", "down", "out", "off", "about", "after", "before",
    "again", "all", "any", "some", "no", "not", "only", "very", "too", "also", "just", "more", "most", "much",
    "many", "few", "other", "another", "each", "every", "same", "such", "own", "here", "there", "where",
    "when", "why", "how", "what", "which", "who", "whom", "whose", "this", "that", "these", "those",
    "i", "me", "my", "we", "us", "our", "you", "your", "he", "him", "his", "she", "her", "it", "its", "they",
    "them", "their", "is", "are", "was", "were", "be", "been", "being", "am", "have", "has", "had", "do",
    "does", "did", "done", "will", "would", "can", "could", "shall", "should", "may", "might", "must",
    "s", "t", "ll", "re", "ve", "d", "m", "don", "didn", "won", "isn", "wasn", "can", "let",
    "go", "goes", "went", "gone", "come", "came", "get", "got", "make", "made", "take", "took", "see", "saw",
    "seen", "look", "looked", "know", "knew", "think", "thought", "say", "said", "tell", "told", "give",
    "gave", "find", "found", "want", "wanted", "like", "liked", "love", "loved", "play", "played", "run",
    "ran", "walk", "walked", "sit", "sat", "sleep", "slept", "sing", "sang", "eat", "ate", "read", "write",
    "wrote", "work", "worked", "live", "lived", "help", "helped", "keep", "kept", "put", "open", "opened",
    "close", "closed", "start", "started", "stop", "stopped", "try", "tried", "call", "called", "ask",
    "asked", "need", "feel", "felt", "become", "became", "leave", "left", "turn", "turned", "show",
    "showed", "hear", "heard", "move", "moved", "change", "changed", "changing", "absorb", "absorbs",
    "attend", "attends", "named", "once", "upon", "time", "times", "day", "days", "night", "year", "years",
    "morning", "evening", "today", "tomorrow", "yesterday", "now", "never", "always", "often", "sometimes",
    "little", "big", "small", "large", "long", "short", "old", "new", "young", "good", "bad", "great",
    "happy", "sad", "red", "blue", "green", "yellow", "white", "black", "bright", "dark", "warm", "cold",
    "hot", "first", "last", "next", "one", "two", "three", "four", "five", "ten", "hundred",
    "girl", "boy", "man", "woman", "child", "children", "friend", "friends", "mother", "father", "mom",
    "dad", "family", "people", "teacher", "king", "queen", "lily", "tom", "sam", "anna", "ben",
    "cat", "cats", "dog", "dogs", "bird", "birds", "fish", "horse", "mouse", "fox", "bear", "cow",
    "tree", "trees", "flower", "flowers", "grass", "park", "garden", "forest", "river", "sea", "sky",
    "sun", "moon", "star", "stars", "rain", "snow", "wind", "water", "fire", "house", "home", "room",
    "door", "window", "table", "chair", "bed", "mat", "box", "ball", "book", "books", "toy", "car",
    "road", "city", "town", "school", "world", "food", "cake", "apple", "bread", "milk", "tea",
    "outside", "inside", "together", "away", "back", "near", "far", "around", "through", "while",
    "until", "than", "as", "like", "well", "yes", "hello", "thank", "thanks", "please", "sorry",
    "quick", "brown", "lazy", "jumps", "jumped", "fast", "slow", "quiet", "loud", "soft", "hard",
    "attention", "sink", "sinks", "excess", "value", "values", "vector", "vectors", "output", "outputs",
    "input", "element", "elements", "token", "tokens", "head", "heads", "layer", "layers", "model",
    "models", "position", "positions", "feature", "features", "waiver", "without", "them", "word",
    "words", "sentence", "text", "number", "numbers", "question", "answer", "idea", "story", "name",
    "way", "thing", "things", "part", "place", "end", "side", "hand", "eyes", "face", "heart", "life",
    "because", "everyone", "everything", "something", "nothing", "someone", "anyone",
};

const char* const kSuffixes[] = {"##s", "##es", "##ed", "##ing", "##ly", "##er", "##est", "##y", "##n", "##'s"};

QJsonObject addedToken(int id, const std::string& content)
{
    return QJsonObject{{"id", id},
                       {"content", QString::fromStdString(content)},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", true}};
}

QJsonObject vocabObject(const std::vector<std::string>& vocab)
{
    QJsonObject o;
    for (size_t i = 0; i < vocab.size(); ++i)
        o.insert(QString::fromStdString(vocab[i]), int(i));
    return o;
}

QJsonObject templateSpecial(const char* id, int typeId)
{
    return QJsonObject{{"SpecialToken", QJsonObject{{"id", id}, {"type_id", typeId}}}};
}

QJsonObject templateSequence(const char* id, int typeId)
{
    return QJsonObject{{"Sequence", QJsonObject{{"id", id}, {"type_id", typeId}}}};
}

QJsonObject specialEntry(const std::string& content, int id)
{
    const QString c = QString::fromStdString(content);
    return QJsonObject{{"id", c}, {"ids", QJsonArray{id}}, {"tokens", QJsonArray{c}}};
}

std::string compact(const QJsonObject& o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Indented).toStdString();
}

void appendUnique(std::vector<std::string>& vocab, const std::string& s)
{
    for (const std::string& v : vocab)
        if (v == s)
            return;
    vocab.push_back(s);
}

} // namespace

std::vector<std::string> decoderVocab()
{
    std::vector<std::string> v{"<|endoftext|>", "<unk>"};
    for (const char* p : kPunctuation)
        appendUnique(v, p);
    for (const char* w : kWords)
        appendUnique(v, w);
    for (char c = 'a'; c <= 'z'; ++c)
        appendUnique(v, std::string(1, c));
    for (char c = '0'; c <= '9'; ++c)
        appendUnique(v, std::string(1, c));
    return v;
}

std::vector<std::string> encoderVocab()
{
    std::vector<std::string> v{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (const char* p : kPunctuation)
        appendUnique(v, p);
    for (const char* w : kWords)
        appendUnique(v, w);
    for (char c = 'a'; c <= 'z'; ++c)
        appendUnique(v, std::string(1, c));
    for (char c = '0'; c <= '9'; ++c)
        appendUnique(v, std::string(1, c));
    for (const char* s : kSuffixes)
        appendUnique(v, s);
    for (char c = 'a'; c <= 'z'; ++c)
        appendUnique(v, "##" + std::string(1, c));
    for (char c = '0'; c <= '9'; ++c)
        appendUnique(v, "##" + std::string(1, c));
    return v;
}

int vocabId(const std::vector<std::string>& vocab, const std::string& piece)
{
    for (size_t i = 0; i < vocab.size(); ++i)
        if (vocab[i] == piece)
            return int(i);
    throw Error(ErrorCode::Internal, "The demo vocabulary has no '" + piece + "'.");
}

std::string decoderTokenizerJson()
{
    const std::vector<std::string> vocab = decoderVocab();
    const QJsonObject post{
        {"type", "TemplateProcessing"},
        {"single", QJsonArray{templateSpecial("<|endoftext|>", 0), templateSequence("A", 0)}},
        {"pair", QJsonArray{templateSpecial("<|endoftext|>", 0), templateSequence("A", 0), templateSequence("B", 1)}},
        {"special_tokens", QJsonObject{{"<|endoftext|>", specialEntry("<|endoftext|>", 0)}}}};
    const QJsonObject root{
        {"version", "1.0"},
        {"truncation", QJsonValue()},
        {"padding", QJsonValue()},
        {"added_tokens", QJsonArray{addedToken(0, "<|endoftext|>"), addedToken(1, "<unk>")}},
        {"normalizer", QJsonObject{{"type", "Lowercase"}}},
        {"pre_tokenizer", QJsonObject{{"type", "Whitespace"}}},
        {"post_processor", post},
        {"decoder", QJsonValue()},
        {"model", QJsonObject{{"type", "WordLevel"}, {"vocab", vocabObject(vocab)}, {"unk_token", "<unk>"}}}};
    return compact(root);
}

std::string decoderTokenizerConfigJson()
{
    const QJsonObject root{{"bos_token", "<|endoftext|>"},
                           {"eos_token", "<|endoftext|>"},
                           {"unk_token", "<unk>"},
                           {"model_max_length", kPositions},
                           {"clean_up_tokenization_spaces", false},
                           {"tokenizer_class", "PreTrainedTokenizerFast"}};
    return compact(root);
}

std::string encoderTokenizerJson()
{
    const std::vector<std::string> vocab = encoderVocab();
    const int cls = vocabId(vocab, "[CLS]");
    const int sep = vocabId(vocab, "[SEP]");
    const QJsonObject post{
        {"type", "TemplateProcessing"},
        {"single", QJsonArray{templateSpecial("[CLS]", 0), templateSequence("A", 0), templateSpecial("[SEP]", 0)}},
        {"pair", QJsonArray{templateSpecial("[CLS]", 0), templateSequence("A", 0), templateSpecial("[SEP]", 0),
                            templateSequence("B", 1), templateSpecial("[SEP]", 1)}},
        {"special_tokens",
         QJsonObject{{"[CLS]", specialEntry("[CLS]", cls)}, {"[SEP]", specialEntry("[SEP]", sep)}}}};
    QJsonArray added;
    for (const char* s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
        added.append(addedToken(vocabId(vocab, s), s));
    const QJsonObject root{
        {"version", "1.0"},
        {"truncation", QJsonValue()},
        {"padding", QJsonValue()},
        {"added_tokens", added},
        {"normalizer", QJsonObject{{"type", "BertNormalizer"},
                                   {"clean_text", true},
                                   {"handle_chinese_chars", true},
                                   {"strip_accents", QJsonValue()},
                                   {"lowercase", true}}},
        {"pre_tokenizer", QJsonObject{{"type", "BertPreTokenizer"}}},
        {"post_processor", post},
        {"decoder", QJsonObject{{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
        {"model", QJsonObject{{"type", "WordPiece"},
                              {"unk_token", "[UNK]"},
                              {"continuing_subword_prefix", "##"},
                              {"max_input_chars_per_word", 100},
                              {"vocab", vocabObject(vocab)}}}};
    return compact(root);
}

std::string encoderTokenizerConfigJson()
{
    const QJsonObject root{{"cls_token", "[CLS]"},
                           {"sep_token", "[SEP]"},
                           {"pad_token", "[PAD]"},
                           {"mask_token", "[MASK]"},
                           {"unk_token", "[UNK]"},
                           {"do_lower_case", true},
                           {"model_max_length", kPositions},
                           {"clean_up_tokenization_spaces", true},
                           {"tokenizer_class", "BertTokenizerFast"}};
    return compact(root);
}

} // namespace sinkscope::demo
