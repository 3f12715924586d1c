// SPDX-License-Identifier: GPL-3.0-or-later
//
// Writes the golden files tst_tokenizer compares against: for each tokenizer and each text of a
// varied corpus, the ids, token strings and [start, end) offsets (Unicode code points) that the
// reference implementation -- Hugging Face `tokenizers`, the npm build of the Rust library --
// produces, plus its decode of those ids. Development-time only; the goldens are committed.
//
// Usage (Node 18+, offline once the package is installed):
//   mkdir -p tokref && cd tokref && npm init -y >/dev/null && npm install tokenizers
//   NODE_PATH=$PWD/node_modules node ../tests/core/data/tokenizer/generate_goldens.js \
//       ../../shared/fixtures        # the folder holding stories260K/ and tokenizers/
//
// Output: tests/core/data/tokenizer/golden_<name>.json, next to this script: one per real
// tokenizer and one per synthetic tokenizer (synthetic/*.json: small hand-written pipelines for
// the components the real files do not use). Rerun it after changing the corpus or a synthetic file.
'use strict';

const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const here = __dirname;
const fixtures = path.resolve(process.argv[2] || path.join(here, '../../../../../shared/fixtures'));

// The corpus: every category the tokenizer issue lists, in one place.
const corpus = [
  ['empty', ''],
  ['single_space', ' '],
  ['ascii_prose', 'The quick brown fox jumps over the lazy dog. It was a bright cold day in April, and the clocks were striking thirteen.'],
  ['code_python', 'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n'],
  ['code_cpp', 'for (int i = 0; i < 10; ++i) { sum += a[i] * b[i]; } // dot\nstd::vector<int> v{1,2,3};'],
  ['numbers', '1 12 123 1234 12345 123456 1234567 3.14159 -42 1,000,000 0x1F 2024-05-17 1e-9 007'],
  ['digits_long', '3141592653589793238462643383279502884197169399375105820974944'],
  ['punctuation_runs', 'Wait... what?!?! (yes) [no] {maybe} --- *** ### $$$ !!! ??? ,,, ;;; ::: ""\'\' <<>>'],
  ['contractions', "I'm sure you'll see it's John's and they've said we'd go; DON'T YOU'RE I'LL it\u2019s"],
  ['leading_spaces', '   leading spaces'],
  ['trailing_spaces', 'trailing spaces   '],
  ['repeated_spaces', 'a  b   c    d     e'],
  ['tabs', 'col1\tcol2\t\tcol3\t'],
  ['newlines', 'line one\nline two\n\nline four\n'],
  ['crlf', 'first\r\nsecond\r\n\r\nthird'],
  ['only_newlines', '\n\n\n'],
  ['mixed_whitespace', ' \t \n x \n\t y  \n'],
  ['unicode_whitespace', 'a\u3000b\u2028c\u0085d\u00a0e\u2003f'],
  ['accents_composed', 'caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m se\u00f1or \u00fcber'],
  ['accents_decomposed', 'cafe\u0301 nai\u0308ve re\u0301sume\u0301 A\u030angstro\u0308m sen\u0303or u\u0308ber'],
  ['stacked_marks', 'a\u0323\u0302 x\u0301\u0323b \u1e69\u0323 \u1100\u1161\u11a8'],
  ['fullwidth_compat', '\uff21\uff22\uff23\uff11\uff12\uff13 \uff76\uff80\uff76\uff85 \ufb01ne \u2460 \u00bd'],
  ['cjk', '\u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8\u3002\u6771\u4eac\u306f\u65e5\u672c\u306e\u9996\u90fd\u3067\u3059\u3002\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8'],
  ['cjk_punctuation', '\u4ed6\u8bf4\uff1a\u201c\u4f60\u597d\uff01\u201d\u7136\u540e\u79bb\u5f00\u4e86\u3002'],
  ['arabic', '\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060c \u0643\u064a\u0641 \u062d\u0627\u0644\u0643\u061f'],
  ['devanagari', '\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e, \u0906\u092a \u0915\u0948\u0938\u0947 \u0939\u0948\u0902?'],
  ['mixed_scripts', 'Hello \u043c\u0438\u0440! \u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u03ba\u03cc\u03c3\u03bc\u03b5. \u0130stanbul \u0131\u015f\u0131k I\u011eDIR'],
  ['emoji', 'I love \ud83c\udf55 and \ud83d\udc0d! \ud83d\udc4d\ud83c\udffd'],
  ['emoji_zwj', '\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66 \ud83c\udff3\ufe0f\u200d\ud83c\udf08 \u2764\ufe0f'],
  ['odd_valid_utf8', 'zero\u200bwidth soft\u00adhyphen bom\ufeffhere nul\u0000del\u007f repl\ufffd \ud835\udd4f\ud835\udd50 \u0378 \ue000'],
  ['url_email', 'Visit https://example.com/path?q=1&x=2 or mail me@example.org'],
  ['markdown', '# Title\n\n- item *one*\n- item **two**\n\n```py\nprint(\'hi\')\n```'],
  ['long_word', 'Pneumonoultramicroscopicsilicovolcanoconiosis ' + 'abcdefghij'.repeat(11)],
];

// Special tokens typed in the prompt, per tokenizer (real spellings from each file).
const typed = {
  stories260K: ['<s>Once upon a time</s> <unk> end', '<s> leading bos'],
  gpt2: ['Hello<|endoftext|>World <|endoftext|> again', '<|endoftext|>start'],
  'bert-base-uncased': ['[CLS] first [SEP] second [SEP] [MASK] [UNK]', 'x[MASK]y [PAD]'],
  llama2: ['<s>[INST] Hi [/INST]</s> <unk>', '<s>Hello'],
  llama3: ['<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>', '<|begin_of_text|>Hello'],
  qwen3: ['<|im_start|>user\nHi<|im_end|>\n<think>\n\n</think>\n\n<|endoftext|>', '<tool_call>x</tool_call>'],
  gemma3: ['<bos><start_of_turn>user\nHi<end_of_turn>\n<eos> <mask> <unused0>', '<bos>Hello'],
};

function specialIds(json) {
  const s = new Set();
  for (const t of json.added_tokens || []) if (t.special) s.add(t.id);
  return s;
}

async function goldenFor(name, file, extraCases, sourceLabel) {
  const text = fs.readFileSync(file, 'utf8');
  const json = JSON.parse(text);
  const specials = specialIds(json);
  const tok = Tokenizer.fromString(text);
  const cases = [];
  const all = corpus.concat((extraCases || []).map((t, i) => ['special_typed_' + i, t]));
  for (const [caseName, input] of all) {
    const e = await tok.encode(input, null, { addSpecialTokens: true });
    const ids = e.getIds();
    const mask = e.getSpecialTokensMask();
    cases.push({
      name: caseName,
      text: input,
      ids,
      tokens: e.getTokens(),
      offsets: e.getOffsets(),
      special: ids.map((id, i) => mask[i] === 1 || specials.has(id)),
      decoded: await tok.decode(ids, false),
    });
  }
  const out = {
    tokenizer: name,
    source: sourceLabel,
    reference: 'Hugging Face tokenizers ' + require('tokenizers/package.json').version + ' (npm), encode(text, addSpecialTokens=true)',
    cases,
  };
  const dest = path.join(here, 'golden_' + name + '.json');
  fs.writeFileSync(dest, JSON.stringify(out) + '\n');
  console.log('wrote', path.relative(process.cwd(), dest), cases.length, 'cases');
}

(async () => {
  const real = [
    ['stories260K', 'stories260K/tokenizer.json'],
    ['gpt2', 'tokenizers/gpt2/tokenizer.json'],
    ['bert-base-uncased', 'tokenizers/bert-base-uncased/tokenizer.json'],
    ['llama2', 'tokenizers/llama2/tokenizer.json'],
    ['llama3', 'tokenizers/llama3/tokenizer.json'],
    ['qwen3', 'tokenizers/qwen3/tokenizer.json'],
    ['gemma3', 'tokenizers/gemma3/tokenizer.json'],
  ];
  for (const [name, rel] of real)
    await goldenFor(name, path.join(fixtures, rel), typed[name], 'shared/fixtures/' + rel);

  const synthDir = path.join(here, 'synthetic');
  if (fs.existsSync(synthDir)) {
    for (const f of fs.readdirSync(synthDir).filter((f) => f.endsWith('.json')).sort()) {
      const name = 'synthetic_' + f.replace(/\.json$/, '');
      const spec = JSON.parse(fs.readFileSync(path.join(synthDir, f), 'utf8'));
      const extra = (spec.added_tokens || []).map((t) => 'see ' + t.content + ' and  ' + t.content + 'x ' + t.content);
      await goldenFor(name, path.join(synthDir, f), extra, 'tests/core/data/tokenizer/synthetic/' + f);
    }
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
