// Generates the tokenizer fixtures of test/fixtures/ with Hugging Face's
// tokenizers for all-MiniLM-L6-v2 (offline, from ../shared/models/).
//
//   tokenizer_minilm.jsonl             one case per line: text -> ids
//   tokenizer_minilm_codepoints.tsv    "x" + c + "x" for every code point c
//
// The reference is the `tokenizers` package: Hugging Face's Rust library,
// the one transformers' fast tokenizers and sentence-transformers run.
// Every case is also encoded by transformers.js (@huggingface/transformers,
// AutoTokenizer); where its JavaScript re-implementation disagrees with the
// library, the case records its ids as "transformers_js" for information.
//
// Inputs are generated reproducibly (seeded) from prose lines of
// ../shared/data (SNLI test premises, WikiSplit test sentences), the shared
// tokenizer test vectors, and synthetic text covering the rules.
//
//   node generate.mjs [--shared DIR] [--out DIR] [--seed N] [--scale K]
//
// --seed and --scale (K times more random cases) make other, larger sets
// for exploring; the committed fixtures use the defaults.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from 'tokenizers';
import { AutoTokenizer, env } from '@huggingface/transformers';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, dflt) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : dflt;
};
const shared = path.resolve(option('--shared', process.env.EMBED_SHARED_DIR || path.join(here, '../../../shared')));
const outDir = path.resolve(option('--out', path.join(here, '../../test/fixtures')));
const modelName = 'all-MiniLM-L6-v2';
const modelDir = path.join(shared, 'models', modelName);

// ---------------------------------------------------------------------------
// Reproducible randomness (mulberry32)

let seed = Number(option('--seed', 20240611));
const scale = Number(option('--scale', 1));
function random() {
	seed = (seed + 0x6D2B79F5) | 0;
	let t = seed;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (list) => list[Math.floor(random() * list.length)];
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
const chars = (s) => [...s];
const cp = (...codes) => String.fromCodePoint(...codes);

// ---------------------------------------------------------------------------
// Inputs

const cases = [];
const add = (cat, text, opts = {}) => cases.push({ cat, text, ...opts });

// The shared test vectors (llama.cpp's bert-bge list), in file order.
function sharedVectors() {
	const inp = fs.readFileSync(path.join(shared, 'data/tokenizer-tests/bert-uncased.inp'), 'utf8');
	for (const text of inp.split('\n__ggml_vocab_test__\n'))
		add('shared-vectors', text);
}

function readLines(file) {
	return fs.readFileSync(path.join(shared, 'data', file), 'utf8').split('\n').filter((l) => l.length > 0);
}

// English prose: SNLI premises (distinct), WikiSplit complex sentences.
function prose() {
	const snli = [...new Set(readLines('snli-devtest/s1.test'))];
	for (let i = 0; i < 600; i++)
		add('snli', pick(snli).trim());
	const wiki = readLines('wikisplit/test.tsv').map((l) => l.split('\t')[0]);
	for (let i = 0; i < 300; i++)
		add('wikisplit', pick(wiki));
	// long inputs, also encoded truncated at 128 tokens
	for (let i = 0; i < 60; i++) {
		const n = int(3, 8);
		const parts = [];
		for (let k = 0; k < n; k++)
			parts.push(pick(wiki));
		add('long', parts.join(' '), { truncate: 128 });
	}
}

const punctuation = chars('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~¡¿«»‹›“”‘’„‚–—―…‰′″※‼⁇⁈⁉、。「」『』【】〈〉《》・！？，．：；（）［］｛｝～｟｠§¶†‡•·');
const letters = chars('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ');
const accented = chars('àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßŒœŠšŽžŸƒĀāĂăĄąĆćČčĎďĐđĒēĖėĘęĚěĞğĢģĪīĮįİıĶķĹĺĻļĽľŁłŃńŅņŇňŌōŐőŔŕŘřŚśŞşŢţŤťŪūŮůŰűŲųŹźŻżǍǎǏǐǑǒǓǔǕǖẞḀḁẠạẢảẤấỲỳỸỹ');
const combining = [0x300, 0x301, 0x302, 0x303, 0x304, 0x306, 0x307, 0x308, 0x30A, 0x30B, 0x30C, 0x323, 0x327, 0x328, 0x331, 0x334, 0x338, 0x345, 0x35C, 0x361, 0x20DD, 0x20E3].map((c) => cp(c));
const greek = chars('ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩαβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώΆΈΉΊΌΎΏϊϋΐΰ');
const cyrillic = chars('АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюяЇїІіЄєҐґЎў');
const cjk = chars('的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切注');
const cjkAstral = [0x20000, 0x20001, 0x2000B, 0x20089, 0x2A6D6, 0x2A700, 0x2B740, 0x2B81D, 0x2B820, 0x2B8B8, 0x2B91F, 0x2B920, 0x2CEAF, 0x2F800, 0x2FA1D, 0x30000].map((c) => cp(c));
const cjkCompat = [0xF900, 0xF901, 0xF92C, 0xFA0E, 0xFA10, 0xFA70, 0xFAD9].map((c) => cp(c));
const kana = chars('あいうえおかきくけこがぎぐげごさしすせそたちつてとなにぬねのはばぱひびぴふぶぷへべぺほぼぽまみむめもやゆよらりるれろわをんゃゅょっーアイウエオカキクケコガギグゲゴサシスセソタチツテトナニヌネノハバパヒビピフブプヘベペホボポマミムメモヤユヨラリルレロワヲンャュョッヴｱｲｳｴｵｶﾞﾊﾟ');
const hangul = chars('가나다라마바사아자차카타파하한국어조선말대한민국서울안녕하세요감사합니다ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎㅏㅑㅓㅕㅗㅛㅜㅠㅡㅣ') .concat([0x1100, 0x1161, 0x11A8, 0x3131, 0xAC00, 0xD7A3].map((c) => cp(c)));
const arabic = chars('ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأؤإئةىًٌٍَُِّْ٠١٢٣٤٥٦٧٨٩،؛؟');
const hebrew = chars('אבגדהוזחטיכלמנסעפצקרשתךםןףץ\u05B0\u05B4\u05B7\u05B8\u05BC\u05C1');
const indic = chars('नमस्तेहिन्दीभारतकखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसह\u093E\u093F\u0940\u0941\u0942\u0947\u0948\u094B\u094C\u094D\u0902\u0903०१२३ภาษาไทยสวัสดีครับ\u0E31\u0E34\u0E35\u0E47\u0E48\u0E49');
const emoji = ['😀', '😁', '🦙', '🚀', '✅', '❤️', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇫🇷', '🇯🇵', '😶‍🌫️', '🧑‍💻', '🫠', '🫨', '☺', '✌️', '#️⃣', '1️⃣', '©', '®', '™', '♥', '★', '☃', '🀄', '🎉'];
const controls = [0, 1, 2, 7, 8, 9, 10, 11, 12, 13, 14, 27, 28, 29, 30, 31, 0x7F, 0x80, 0x85, 0x9F, 0xAD, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2028, 0x2029, 0x2060, 0xFEFF, 0xFFFD, 0xFFF9, 0xE000, 0xF8FF, 0xF0000, 0x10FFFD, 0xE0001, 0xE0041, 0x1D173].map((c) => cp(c));
const spaces = [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C, 0xA0, 0x1680, 0x2000, 0x2003, 0x2007, 0x2009, 0x200A, 0x202F, 0x205F, 0x3000, 0x180E].map((c) => cp(c));
// characters whose class changed after Hugging Face's category tables
const unicodeEdges = [0x1AC1, 0x2E52, 0x2E4F, 0x0890, 0x13430, 0x1734, 0x111C9, 0x166D, 0x11938, 0x1171E, 0x061D, 0x0B55, 0x1FEF, 0x037E, 0x0387, 0x2126, 0x212A, 0x212B, 0x1E9E, 0x0130, 0x0131, 0x03A3, 0x1D165, 0x1D16D, 0x0F73, 0x0F75, 0x0F81, 0x2ADC, 0xFB1D, 0xFB2C, 0xFB4E, 0x1D15E, 0x1D160, 0xFB01, 0xFF21, 0xFF41, 0x2160, 0x00B2, 0x1D400, 0x24B6].map((c) => cp(c));
// combining marks of many classes, old and new, spacing and not
const marks = [0x0300, 0x0301, 0x0316, 0x0327, 0x0334, 0x0345, 0x035C, 0x0361, 0x0F71, 0x0F72, 0x0F74, 0x0F80, 0x1AC1, 0x1ABF, 0x1DF6,
	0x1D165, 0x1D16D, 0x1D167, 0x093C, 0x0941, 0x094D, 0x0652, 0x05B0, 0x05C1, 0x302A, 0x302E, 0x16FF0, 0xA9C0, 0x1734, 0x0F39, 0x20D0,
	0x0F75, 0x0344, 0x1D15E, 0x0CBC, 0x0D3B, 0x08D3, 0x1E130, 0x3099].map((c) => cp(c));
const words = ['the', 'embedding', 'PostgreSQL', 'vector', 'database', 'running', 'unaffordable', 'tokenization', 'naïve', 'café', 'résumé', 'Zürich', 'São', 'Paulo', 'Ångström', 'Straße', 'İstanbul', 'ΟΔΟΣ', 'Москва', '東京', 'über', 'façade', 'coöperate', 'jalapeño', 'piñata', 'x', 'I', 'a'];
const specials = ['[CLS]', '[SEP]', '[MASK]', '[UNK]', '[PAD]', '[cls]', '[Sep]', '[ CLS ]', '[CLS', 'CLS]', '[[CLS]]', '[MASK][MASK]', '[SEP][CLS]', '##', '##ing', '#'];

function randomFrom(pools, minLen, maxLen) {
	const n = int(minLen, maxLen);
	let s = '';
	for (let i = 0; i < n; i++)
		s += pick(pick(pools));
	return s;
}

function synthetic() {
	// punctuation runs and mixtures
	for (let i = 0; i < 60; i++)
		add('punctuation', randomFrom([punctuation, punctuation, letters, [' ']], 1, 24));
	for (const run of ['!!!!!!', '...', '?!?!', '--', '—', '…', '""', "''", '``', '((()))', '<<>>', '@#$%^&*', '~~~', '|', '\\\\', '///', '_', '__init__', 'a_b_c'])
		add('punctuation', run);
	// digits and numbers with separators
	for (const n of ['0', '7', '42', '3.14159', '1,000,000', '1 000 000', '1.000.000,50', '12\u202F345', '1e-9', '-17', '+33 1 23 45 67 89', '0x1F600', '2024-06-11', '12:30:45', '50%', '$19.99', '€5', '¥100', '½', '¾', '²', '١٢٣', '१२३', '一二三', '1st', '2nd', '3rd', '4th', '007', '3333333333333333333333'])
		add('numbers', n);
	for (let i = 0; i < 40; i++)
		add('numbers', randomFrom([chars('0123456789'), chars('0123456789'), chars('.,:-/ ')], 1, 20));
	// accents, precomposed and decomposed, stacked marks
	for (let i = 0; i < 80; i++)
		add('accents', randomFrom([accented, letters, letters, [' '], combining], 1, 30));
	for (const w of ['café', 'cafe\u0301', 'e\u0301\u0301\u0301', '\u0301', '\u0301abc', 'a\u0327\u0301', 'a\u0301\u0327', 'A\u030A', 'Å', 'Ångström', 'ǅ', 'ǈ', 'Ǆ', 'ﬁne', 'ＡＢＣ', 'ａｂｃ', 'Ⅻ', 'x\u20DD', 'Québec', 'Führer', 'naïve', 'Dvořák', 'Łódź', 'Ærøskøbing', 'İstanbul', 'ıi', 'ß', 'ẞ', 'Straße'])
		add('accents', w);
	// scripts
	for (let i = 0; i < 40; i++)
		add('greek-cyrillic', randomFrom([greek, greek, cyrillic, [' '], punctuation], 1, 30));
	for (const w of ['ΟΔΟΣ', 'Σ', 'ΣΑΣ σας', 'ὈΔΥΣΣΕΎΣ', 'Ἀθῆναι', 'μπορώ', 'Привет, мир!', 'ЁЛКА ёлка', 'Україна', 'Ў'])
		add('greek-cyrillic', w);
	for (let i = 0; i < 50; i++)
		add('cjk', randomFrom([cjk, cjk, cjkAstral, cjkCompat, letters, [' '], punctuation], 1, 30));
	for (let i = 0; i < 30; i++)
		add('kana', randomFrom([kana, kana, cjk, [' ', '\u3099', '\u309A']], 1, 25));
	for (let i = 0; i < 30; i++)
		add('hangul', randomFrom([hangul, hangul, [' ']], 1, 25));
	for (let i = 0; i < 30; i++)
		add('arabic-hebrew', randomFrom([arabic, arabic, hebrew, [' ']], 1, 30));
	for (let i = 0; i < 30; i++)
		add('indic-thai', randomFrom([indic, indic, [' ']], 1, 30));
	for (let i = 0; i < 40; i++)
		add('emoji', randomFrom([emoji, letters, [' ', '\u200D', '\uFE0F', '\u{1F3FB}']], 1, 16));
	// control characters and invisible characters
	for (let i = 0; i < 60; i++)
		add('controls', randomFrom([controls, controls, letters, spaces], 1, 20));
	for (const c of controls)
		add('controls', 'a' + c + 'b');
	// white space only, empty
	add('whitespace', '');
	for (let i = 0; i < 30; i++)
		add('whitespace', randomFrom([spaces], 1, 12));
	for (const s of spaces)
		add('whitespace', 'a' + s + 'b');
	// long words: the 100-character limit counts normalised characters
	for (const n of [99, 100, 101, 150, 500]) {
		add('long-words', 'a'.repeat(n));
		add('long-words', 'x ' + 'ab'.repeat(Math.ceil(n / 2)).slice(0, n) + ' y');
	}
	add('long-words', 'e\u0301'.repeat(100));	/* 200 characters, 100 after stripping */
	add('long-words', 'é'.repeat(101));
	add('long-words', 'İ'.repeat(60));			/* lowercasing doubles the characters */
	add('long-words', 'İ'.repeat(50));
	add('long-words', '中'.repeat(150));		/* CJK characters are words of their own */
	add('long-words', 'supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis');
	for (let i = 0; i < 10; i++)
		add('long-words', randomFrom([letters, accented], 95, 110));
	// mixed case
	for (let i = 0; i < 30; i++)
		add('mixed-case', Array.from({ length: int(1, 6) }, () => pick(words)).map((w) => (random() < 0.5 ? w.toUpperCase() : w)).join(' '));
	// special tokens in the text
	for (const s of specials)
		add('special-tokens', s);
	for (let i = 0; i < 50; i++)
		add('special-tokens', randomFrom([specials, words, [' ', ' ', '', '\n', '\t']], 1, 10));
	// URLs, e-mail, code
	for (const s of ['https://example.com/path?query=1&b=two#frag', 'http://localhost:5432/db', 'ftp://ftp.debian.org/debian/', 'user@example.org', 'www.postgresql.org/docs/15/index.html',
		'SELECT embed(\'I love ice cream\') <=> embed(\'gelato\') AS d;', 'int main(void) { return 0; }', 'for (i = 0; i < n; i++) x[i] += y[i] * 2;',
		'def f(x):\n\treturn x ** 2  # square', '{"key": [1, 2.5, null, true]}', '<a href="x">link</a>', 'C:\\Program Files\\x.exe', '#!/bin/sh\necho "$HOME" | tr a-z A-Z', 'a->b && c != d || !e', 'x = y ?? z; // comment',
		'CamelCaseIdentifier snake_case_identifier kebab-case-identifier SCREAMING_CASE', 'v1.2.3-rc.1+build.5', '#hashtag @mention $CASH', 'e=mc²', 'α+β=γ'])
		add('code-urls', s);
	// runs of combining marks: canonical ordering and what stripping keeps
	for (let i = 0; i < 150 * scale; i++) {
		let t = '';
		for (let w = int(1, 3); w > 0; w--)
			t += pick([pick(letters), pick(accented), pick(greek), pick(cjk), pick(indic), '']) + randomFrom([marks], 1, 5) + pick(['', ' ', 'a', '.']);
		add('marks', t);
	}
	// everything mixed
	const all = [punctuation, letters, accented, combining, greek, cyrillic, cjk, cjkAstral, kana, hangul, arabic, indic, emoji, controls, spaces, unicodeEdges, words, specials, [' ', ' ', ' ']];
	for (let i = 0; i < 700 * scale; i++)
		add('fuzz', randomFrom(all, 1, 40));
	for (const c of unicodeEdges) {
		add('unicode-edges', 'x' + c + 'x');
		add('unicode-edges', 'A' + c);
	}
}

// ---------------------------------------------------------------------------
// Configuration variants: small tokenizers (own vocabulary) that exercise the
// options of tokenizer.json and of the vocab.txt layout.

function variantVocab(prefix) {
	const singles = [...new Set(chars('!"#$%&\'()*+,-./0123456789:;<=>?@[\\]^_`{|}~ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzéèüöñçåÉÜÅßαβγδεσςΣΟΔοδώщжЖ中文東京あいア한한') .concat(['\u0301', '\u0308', '\u0307', '\u0327', 'ﬁ']))];
	const wordList = ['hello', 'Hello', 'HELLO', 'world', 'World', 'new', 'New', 'york', 'York', 'the', 'The', 'cat', 'sat', 'mat', 'run',
		'un', 'cafe', 'café', 'Café', 'CAFÉ', 'resume', 'résumé', 'istanbul', 'i\u0307stanbul', 'straße', 'strasse', 'naive', 'naïve', 'οδος', 'οδοσ',
		'mask', 'ing', 'york!', 'new york', '<mask>', 'token', 'izer', 'a\u0301', 'e\u0301'];
	const pieces = ['ing', 'ning', 'aff', 'ord', 'able', 'ize', 'izer', 'ization', 'lo', 'llo', 'rld', 'é', 'ès', 'ume', 'sume'];
	const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
	for (const c of singles)
		vocab.push(c);
	for (const c of singles)
		vocab.push(prefix + c);
	for (const w of wordList)
		vocab.push(w);
	for (const p of pieces)
		vocab.push(prefix + p);
	return [...new Set(vocab)];
}

const specialAdded = (vocab) => ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t) => ({
	id: vocab.indexOf(t), content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
}));
const template = (vocab) => ({
	type: 'TemplateProcessing',
	single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
	pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
		{ Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
	special_tokens: {
		'[CLS]': { id: '[CLS]', ids: [vocab.indexOf('[CLS]')], tokens: ['[CLS]'] },
		'[SEP]': { id: '[SEP]', ids: [vocab.indexOf('[SEP]')], tokens: ['[SEP]'] },
	},
});
const bertNormalizerConfig = (o = {}) => ({ type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true, ...o });

function tokenizerJson(vocab, o = {}) {
	return {
		version: '1.0',
		truncation: null,
		padding: null,
		added_tokens: o.added ?? specialAdded(vocab),
		normalizer: o.normalizer === undefined ? bertNormalizerConfig() : o.normalizer,
		pre_tokenizer: o.pre_tokenizer === undefined ? { type: 'BertPreTokenizer' } : o.pre_tokenizer,
		post_processor: o.post_processor === undefined ? template(vocab) : o.post_processor,
		decoder: { type: 'WordPiece', prefix: o.prefix ?? '##', cleanup: true },
		model: {
			type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: o.prefix ?? '##',
			max_input_chars_per_word: o.max_chars ?? 100, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
		},
	};
}

function variantDefinitions() {
	const v = variantVocab('##');
	const at = variantVocab('@@');
	const extraAdded = [
		...specialAdded(v),
		{ id: v.indexOf('<mask>'), content: '<mask>', single_word: true, lstrip: true, rstrip: true, normalized: false, special: true },
		{ id: v.indexOf('new york'), content: 'New York', single_word: false, lstrip: false, rstrip: false, normalized: true, special: false },
		{ id: v.indexOf('ing'), content: 'ing', single_word: true, lstrip: false, rstrip: false, normalized: true, special: false },
		{ id: v.length, content: 'Héllo', single_word: false, lstrip: false, rstrip: false, normalized: true, special: false },
		{ id: v.length + 1, content: '<extra>', single_word: false, lstrip: false, rstrip: true, normalized: false, special: false },
		{ id: v.length + 2, content: '<extra_long>', single_word: false, lstrip: true, rstrip: false, normalized: false, special: true },
	];
	return [
		{ name: 'base', json: tokenizerJson(v) },
		{ name: 'cased', json: tokenizerJson(v, { normalizer: bertNormalizerConfig({ lowercase: false }) }) },
		{ name: 'lower_keep_accents', json: tokenizerJson(v, { normalizer: bertNormalizerConfig({ strip_accents: false }) }) },
		{ name: 'cased_strip_accents', json: tokenizerJson(v, { normalizer: bertNormalizerConfig({ lowercase: false, strip_accents: true }) }) },
		{ name: 'no_clean_no_chinese', json: tokenizerJson(v, { normalizer: bertNormalizerConfig({ clean_text: false, handle_chinese_chars: false }) }) },
		{ name: 'no_normalizer', json: tokenizerJson(v, { normalizer: null }) },
		{ name: 'no_pre_tokenizer', json: tokenizerJson(v, { pre_tokenizer: null }) },
		{ name: 'bert_processing', json: tokenizerJson(at, { prefix: '@@', max_chars: 8, post_processor: { type: 'BertProcessing', sep: ['[SEP]', at.indexOf('[SEP]')], cls: ['[CLS]', at.indexOf('[CLS]')] } }) },
		{ name: 'added_tokens', json: tokenizerJson(v, { added: extraAdded, post_processor: null }) },
		// vocab.txt layouts, with the tokenizer.json transformers would convert them to
		{ name: 'txt_default', vocab: v, config: {}, json: tokenizerJson(v) },
		{ name: 'txt_cased', vocab: v, config: { do_lower_case: false, tokenize_chinese_chars: false, strip_accents: null, unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]', model_max_length: 64 },
			json: tokenizerJson(v, { normalizer: bertNormalizerConfig({ lowercase: false, handle_chinese_chars: false }) }) },
	];
}

function variantInputs() {
	const inputs = ['', ' ', 'hello world', 'Hello World', 'HELLO, WORLD!', 'Café CAFÉ café cafe\u0301', 'résumé RÉSUMÉ', 'İstanbul', 'Straße STRASSE',
		'ΟΔΟΣ οδος', 'naïve NAÏVE', 'new york New York NEW YORK newyork', 'running unaffordable tokenizer tokenization', 'a\u0301 e\u0301 A\u0301',
		'中文 東京中文', '한 한국', 'あいア', '[CLS] hello [SEP]', '[MASK]', 'x<mask>y', 'x <mask> y', '<mask>', 'a  <mask>  b', 'hello<extra> world', 'a <extra>  b',
		'a   <extra_long>b', 'singing sing ing ing.', 'Héllo héllo HELLO', 'ﬁne', 'tab\tnew\nline\rend', 'a\u0000b\u200bc\ufeffd\ufffde', 'a\u3000b\u00a0c',
		'superlongwordthatexceedseight', 'abcdefgh abcdefghi', '!!!???', 'cat sat on the mat.', 'CAT SAT ON THE MAT.', '\u0301\u0301', 'σς Σ',
		'x\u{1D16D}\u{1D165}y', 'e\u0327\u0301 e\u0301\u0327', '한', 'ÅåÅ', 'z'.repeat(120), 'é'.repeat(9)];
	const alphabet = chars('abcXYZéÉüÜσΣς中東あ한 ,.!?\t') .concat(['\u0301', '\u0308', '[CLS]', '<mask>', 'New York', 'ing', 'Héllo', '<extra>', 'hello', ' ', ' ']).concat(marks.slice(0, 12));
	for (let i = 0; i < 40 * scale; i++)
		inputs.push(randomFrom([alphabet], 1, 16));
	return inputs;
}

async function writeVariants(js) {
	const root = path.join(outDir, 'tokenizer_variants');
	fs.rmSync(root, { recursive: true, force: true });
	const rows = [];
	let jsDiffer = 0;
	const inputs = variantInputs();
	for (const variant of variantDefinitions()) {
		const dir = path.join(root, variant.name);
		fs.mkdirSync(dir, { recursive: true });
		if (variant.vocab) {
			fs.writeFileSync(path.join(dir, 'vocab.txt'), variant.vocab.join('\n') + '\n');
			fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(variant.config) + '\n');
		} else
			fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(variant.json) + '\n');
		const tok = Tokenizer.fromString(JSON.stringify(variant.json));
		for (const text of inputs) {
			const enc = await tok.encode(text);
			rows.push(JSON.stringify({ variant: variant.name, text, ids: enc.getIds(), offsets: byteOffsets(text, enc.getOffsets()) }));
		}
	}
	fs.writeFileSync(path.join(root, 'cases.jsonl'), rows.join('\n') + '\n');
	return rows.length;
}

// ---------------------------------------------------------------------------
// Encoding

// Code point offsets (as the library reports them) to UTF-8 byte offsets.
function byteOffsets(text, offsets) {
	const starts = [0];
	for (const ch of text)
		starts.push(starts[starts.length - 1] + Buffer.byteLength(ch, 'utf8'));
	return offsets.map(([s, e]) => [starts[s], starts[e]]);
}

const sameIds = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function main() {
	for (const f of ['tokenizer.json', 'vocab.txt'])
		if (!fs.existsSync(path.join(modelDir, f)))
			throw new Error(`${path.join(modelDir, f)} not found: pass --shared DIR`);
	const reference = Tokenizer.fromFile(path.join(modelDir, 'tokenizer.json'));
	reference.disablePadding();
	reference.disableTruncation();
	const truncating = Tokenizer.fromFile(path.join(modelDir, 'tokenizer.json'));
	truncating.disablePadding();
	truncating.setTruncation(128);

	env.allowRemoteModels = false;
	env.localModelPath = path.join(shared, 'models') + path.sep;
	const js = await AutoTokenizer.from_pretrained(modelName);

	sharedVectors();
	prose();
	synthetic();

	const lines = [];
	let jsDiffer = 0;
	for (const c of cases) {
		const enc = await reference.encode(c.text);
		const row = { cat: c.cat, text: c.text, ids: enc.getIds() };
		if (c.cat !== 'snli' && c.cat !== 'wikisplit' && c.cat !== 'long')
			row.offsets = byteOffsets(c.text, enc.getOffsets());
		if (c.truncate) {
			const t = await truncating.encode(c.text);
			row.truncate = c.truncate;
			row.ids_truncated = t.getIds();
		}
		const jsIds = js.encode(c.text).map(Number);
		if (!sameIds(jsIds, row.ids)) {
			row.transformers_js = jsIds;
			jsDiffer++;
		}
		lines.push(JSON.stringify(row));
	}
	fs.mkdirSync(outDir, { recursive: true });
	const jsonl = path.join(outDir, 'tokenizer_minilm.jsonl');
	fs.writeFileSync(jsonl, lines.join('\n') + '\n');

	// Every code point c (surrogates excepted) between two x's, without
	// special tokens, as runs of consecutive code points with equal ids.
	const runs = [];
	let batch = [];
	const flush = async () => {
		const encs = await reference.encodeBatch(batch.map((c) => 'x' + cp(c) + 'x'), { addSpecialTokens: false });
		encs.forEach((e, i) => {
			const ids = e.getIds().join(' ');
			const last = runs[runs.length - 1];
			if (last && last.ids === ids && last.last === batch[i] - 1 - (batch[i] === 0xE000 ? 0x800 : 0))
				last.last = batch[i];
			else
				runs.push({ first: batch[i], last: batch[i], ids });
		});
		batch = [];
	};
	for (let c = 0; c < 0x110000; c++) {
		if (c >= 0xD800 && c <= 0xDFFF)
			continue;
		batch.push(c);
		if (batch.length === 4096)
			await flush();
	}
	await flush();
	const tsv = path.join(outDir, 'tokenizer_minilm_codepoints.tsv');
	fs.writeFileSync(tsv, '# first\tlast\tids of "x" + c + "x" (hex code points; surrogates skipped)\n' +
		runs.map((r) => `${r.first.toString(16)}\t${r.last.toString(16)}\t${r.ids}`).join('\n') + '\n');

	console.log(`${cases.length} cases -> ${jsonl} (${fs.statSync(jsonl).size} bytes); ` +
		`transformers.js differs on ${jsDiffer}`);
	const nvariants = await writeVariants(js);
	console.log(`${nvariants} configuration variant cases -> ${path.join(outDir, 'tokenizer_variants')}`);
	console.log(`${runs.length} code point runs -> ${tsv} (${fs.statSync(tsv).size} bytes)`);
}

await main();
