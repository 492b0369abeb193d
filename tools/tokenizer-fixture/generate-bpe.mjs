// Generates the byte-level BPE tokenizer fixtures of test/fixtures/ with
// Hugging Face's tokenizers (offline: GPT-2's vocab.json + merges.txt are
// read from ../shared/models/gpt2/, prose from ../shared/data/).
//
//   tokenizer_gpt2.jsonl            one case per line: text -> GPT-2 ids
//   tokenizer_gpt2_classes.tsv      the class of every code point in GPT-2's
//                                   pre-tokenization pattern (\p{L}, \p{N},
//                                   \s, other), as runs
//   tokenizer_bpe_variants/<name>/  small byte-level tokenizers with their own
//                                   vocabulary, and cases.jsonl
//
// The reference is the `tokenizers` package (Hugging Face's Rust library).
// GPT-2 is built as transformers' GPT2Converter builds it from the two files:
// BPE model read by the library, ByteLevel pre-tokenizer without prefix
// space, ByteLevel post-processor without offset trimming, <|endoftext|> as
// a special added token.  Every GPT-2 case is also encoded by
// transformers.js (@huggingface/transformers); where its JavaScript
// re-implementation disagrees with the library, the case keeps its ids as
// "transformers_js", for information.
//
//   node generate-bpe.mjs [--shared DIR] [--out DIR] [--seed N] [--scale K]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BPE, Tokenizer, byteLevelPreTokenizer, byteLevelProcessing } from 'tokenizers';
import { AutoTokenizer, env } from '@huggingface/transformers';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, dflt) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : dflt;
};
const shared = path.resolve(option('--shared', process.env.EMBED_SHARED_DIR || path.join(here, '../../../shared')));
const outDir = path.resolve(option('--out', path.join(here, '../../test/fixtures')));
const gpt2Dir = path.join(shared, 'models', 'gpt2');

// ---------------------------------------------------------------------------
// Reproducible randomness (mulberry32)

let seed = Number(option('--seed', 20240612));
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
function randomFrom(pools, minLen, maxLen) {
	const n = int(minLen, maxLen);
	let s = '';
	for (let i = 0; i < n; i++)
		s += pick(pick(pools));
	return s;
}

// ---------------------------------------------------------------------------
// Character pools

const punctuation = chars('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~¡¿«»‹›“”‘’„‚–—―…‰′″※‼⁇、。「」『』【】〈〉《》・！？，．：；（）［］｛｝～§¶†‡•·');
const letters = chars('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ');
const digits = chars('0123456789');
const accented = chars('àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßŒœŠšŽžŸƒĀāĂăĄąĆćČčĎďĐđĒēĖėĘęĚěĞğĢģĪīĮįİıĶķĹĺĻļĽľŁłŃńŅņŇňŌōŐőŔŕŘřŚśŞşŢţŤťŪūŮůŰűŲųŹźŻżǍǎẞḀḁẠạỲỳ');
const combining = [0x300, 0x301, 0x302, 0x303, 0x308, 0x30A, 0x327, 0x328, 0x334, 0x338, 0x345, 0x361, 0x20DD, 0x20E3, 0x093C, 0x094D, 0x0E31, 0x3099].map((c) => cp(c));
const greek = chars('ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩαβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώΐΰ');
const cyrillic = chars('АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюяЇїІіЄєҐґ');
const cjk = chars('的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切注');
const cjkAstral = [0x20000, 0x2000B, 0x2A6D6, 0x2B740, 0x2B820, 0x2CEAF, 0x2EBF0, 0x2F800, 0x30000, 0x31350].map((c) => cp(c));
const kana = chars('あいうえおかきくけこがぎぐげごさしすせそたちつてとなにぬねのはばぱひびぴふぶぷへべぺほまみむめもやゆよらりるれろわをんゃゅょっーアイウエオカキクケコガギグゲゴサシスセソタチツテトナニヌネノハバパヒビピフブプヘベペホマミムメモヤユヨラリルレロワヲンッヴｱｲｳｴｵｶﾞﾊﾟ');
const hangul = chars('가나다라마바사아자차카타파하한국어조선말대한민국서울안녕하세요감사합니다ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎㅏㅑㅓㅕㅗㅛㅜㅠㅡㅣ').concat([0x1100, 0x1161, 0x11A8, 0xAC00, 0xD7A3].map((c) => cp(c)));
const arabic = chars('ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأؤإئةىًٌٍَُِّْ٠١٢٣٤٥٦٧٨٩،؛؟');
const hebrew = chars('אבגדהוזחטיכלמנסעפצקרשתךםןףץ\u05B0\u05B4\u05B7\u05B8\u05BC\u05C1');
const indic = chars('नमस्तेहिन्दीभारतकखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसह\u093E\u093F\u0940\u0941\u0942\u0947\u0948\u094B\u094C\u094D\u0902\u0903०१२३ภาษาไทยสวัสดีครับ\u0E31\u0E34\u0E35\u0E47\u0E48\u0E49');
const emoji = ['😀', '😁', '🦙', '🚀', '✅', '❤️', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇫🇷', '🇯🇵', '😶‍🌫️', '🧑‍💻', '🫠', '🫨', '☺', '✌️', '#️⃣', '1️⃣', '©', '®', '™', '♥', '★', '☃', '🀄', '🎉', '👋', '🌍'];
const controls = [0, 1, 2, 7, 8, 11, 12, 14, 27, 31, 0x7F, 0x80, 0x85, 0x9F, 0xAD, 0x200B, 0x200C, 0x200D, 0x200E, 0x2028, 0x2029, 0x2060, 0xFEFF, 0xFFFD, 0xFFF9, 0xE000, 0xF8FF, 0xF0000, 0x10FFFD, 0xE0001, 0xE0041, 0x1D173].map((c) => cp(c));
const spaces = [0x20, 0x20, 0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C, 0xA0, 0x1680, 0x2000, 0x2003, 0x2007, 0x2009, 0x200A, 0x202F, 0x205F, 0x3000, 0x180E, 0x85].map((c) => cp(c));
// characters whose class in the library's Unicode data (16.0) is newer than utf8proc's, and Unicode 17 ones
const unicodeEdges = [0x1C89, 0x1C8A, 0xA7CB, 0xA7CD, 0xA7DC, 0x105C0, 0x10D40, 0x10D49, 0x10D4A, 0x10D6F, 0x10EC2, 0x11380, 0x113D1, 0x116D0, 0x11BC0, 0x11BF0, 0x13460, 0x143FA, 0x16100, 0x16130,
	0x16D40, 0x16D70, 0x18CFF, 0x1CCF0, 0x1E5D0, 0x1E5F0, 0x1E5F1, 0x2EBF0, 0x2EE5D, 0x1C8B, 0xA7CE, 0x10940, 0x11DB0, 0x16EA0, 0x1E6C0, 0x31350, 0x323B0, 0x0378, 0xFFFF, 0x2160, 0x00B2, 0x00BD, 0x16EE, 0x3007].map((c) => cp(c));
const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M", "'LL", "'D", "'", "''", '’s', '’t', "'x", "'r", "'v", "'l"];
const words = ['the', 'embedding', 'PostgreSQL', 'vector', 'database', 'running', 'unaffordable', 'tokenization', 'naïve', 'café', 'résumé', 'Zürich', 'São', 'Paulo', 'Straße', 'İstanbul', 'ΟΔΟΣ', 'Москва', '東京', 'über', 'x', 'I', 'a', 'Hello', 'world', 'GPT', 'RoBERTa', "don't", "it's", "we'll", "I'm"];
const specials = ['<|endoftext|>', '<|endoftext|><|endoftext|>', '<|endoftext|', '|endoftext|>', '<|ENDOFTEXT|>', '< |endoftext|>', '<s>', '</s>', '<mask>', '<unk>', '<pad>', '<|', '|>', '<'];

// ---------------------------------------------------------------------------
// GPT-2 cases

const cases = [];
const add = (cat, text, opts = {}) => cases.push({ cat, text, ...opts });

function readLines(file) {
	return fs.readFileSync(path.join(shared, 'data', file), 'utf8').split('\n').filter((l) => l.length > 0);
}

function sharedVectors() {
	const inp = fs.readFileSync(path.join(shared, 'data/tokenizer-tests/gpt2.inp'), 'utf8');
	for (const text of inp.split('\n__ggml_vocab_test__\n'))
		add('shared-vectors', text);
}

function prose() {
	const snli = [...new Set(readLines('snli-devtest/s1.test'))];
	for (let i = 0; i < 400; i++)
		add('snli', pick(snli).trim());
	const wiki = readLines('wikisplit/test.tsv').map((l) => l.split('\t')[0]);
	for (let i = 0; i < 200; i++)
		add('wikisplit', pick(wiki));
	for (let i = 0; i < 40; i++) {
		const parts = [];
		for (let k = int(3, 8); k > 0; k--)
			parts.push(pick(wiki));
		add('long', parts.join(pick([' ', '\n', '\n\n', '  '])), { truncate: 128 });
	}
}

function synthetic() {
	for (const c of contractions)
		for (const ctx of ['x', 'it', 'IT', ' ', '', '1', '!', "'"])
			add('contractions', ctx + c + pick(['', ' a', 'a', 's', '.', "'", '\n']));
	for (const s of ["I'm", "you're", "it's", "don't", "we've", "they'll", "I'd", "IT'S", "It'S", 'it’s', "''s", "'s'", "rock 'n' roll", "o'clock", "'sup", "ma'am", "y'all", "'ll've", " 's", "'''s", "l'amour", "'12", "'\u00e9t\u00e9'"])
		add('contractions', s);
	for (let i = 0; i < 60; i++)
		add('contractions', randomFrom([contractions, letters, [' ', "'", "'"]], 1, 14));
	for (const s of ['a  b', 'a   b', ' a', '  a', '   a', 'a ', 'a  ', 'a   ', '\n', '\n\n', 'a\n\nb', 'a \n b', 'a\n b', 'a \nb', 'a\t\tb', 'a\u00a0b', 'a \u3000b', 'a\u3000 b', '   ', ' ', '\t', '\r\n', 'x\r\n\r\ny', ' \n ', '\n \n', 'a  1', 'a  !', '1  a', '!  a', 'a \u00a0!', '  ?', 'a\u2028b', 'a\u0085b', '\u180Ea'])
		add('whitespace', s);
	for (let i = 0; i < 80; i++)
		add('whitespace', randomFrom([spaces, spaces, letters, digits, punctuation, ["'s"]], 1, 20));
	add('empty', '');
	for (const n of ['0', '7', '42', '3.14159', '1,000,000', '1 000 000', '12\u202F345', '1e-9', '-17', '+33 1 23 45 67 89', '0x1F600', '2024-06-11', '12:30:45', '50%', '$19.99', '€5', '½', '¾', '²', '١٢٣', '१२३', '一二三', 'Ⅻ', '1st', '007', '3333333333333333333333', 'a1b2c3', '٣x'])
		add('numbers', n);
	for (let i = 0; i < 40; i++)
		add('numbers', randomFrom([digits, digits, chars('.,:-/ '), letters], 1, 20));
	for (let i = 0; i < 50; i++)
		add('punctuation', randomFrom([punctuation, punctuation, letters, [' ']], 1, 24));
	for (const run of ['!!!!!!', '...', '?!?!', '--', '—', '…', '""', "''", '``', '((()))', '<<>>', '@#$%^&*', '~~~', '|', '\\\\', '///', '_', '__init__', 'a_b_c', ' !', ' !!', '! !'])
		add('punctuation', run);
	for (let i = 0; i < 60; i++)
		add('accents', randomFrom([accented, letters, letters, [' '], combining], 1, 30));
	for (let i = 0; i < 30; i++)
		add('greek-cyrillic', randomFrom([greek, greek, cyrillic, [' '], punctuation], 1, 30));
	for (let i = 0; i < 40; i++)
		add('cjk', randomFrom([cjk, cjk, cjkAstral, letters, [' '], punctuation], 1, 30));
	for (let i = 0; i < 20; i++)
		add('kana-hangul', randomFrom([kana, hangul, cjk, [' ']], 1, 25));
	for (let i = 0; i < 20; i++)
		add('arabic-hebrew', randomFrom([arabic, hebrew, [' ']], 1, 30));
	for (let i = 0; i < 20; i++)
		add('indic-thai', randomFrom([indic, [' ']], 1, 30));
	for (let i = 0; i < 40; i++)
		add('emoji', randomFrom([emoji, letters, [' ', '\u200D', '\uFE0F', '\u{1F3FB}']], 1, 16));
	for (let i = 0; i < 40; i++)
		add('controls', randomFrom([controls, controls, letters, spaces], 1, 20));
	for (const c of controls)
		add('controls', 'a' + c + 'b');
	for (const s of specials)
		add('special-tokens', s);
	for (let i = 0; i < 50; i++)
		add('special-tokens', randomFrom([specials, words, [' ', ' ', '', '\n', '\t', 'x']], 1, 10));
	for (const s of ['https://example.com/path?query=1&b=two#frag', 'http://localhost:5432/db', 'user@example.org', 'www.postgresql.org/docs/15/index.html',
		"SELECT embed('I love ice cream') <=> embed('gelato') AS d;", 'int main(void) { return 0; }', 'for (i = 0; i < n; i++) x[i] += y[i] * 2;',
		'def f(x):\n\treturn x ** 2  # square', '{"key": [1, 2.5, null, true]}', '<a href="x">link</a>', 'C:\\Program Files\\x.exe', '#!/bin/sh\necho "$HOME" | tr a-z A-Z',
		'    if (x) {\n        y = 1;\n    }\n', 'CamelCaseIdentifier snake_case_identifier kebab-case-identifier', 'v1.2.3-rc.1+build.5', '#hashtag @mention $CASH', 'e=mc²', 'α+β=γ'])
		add('code-urls', s);
	for (const n of [1, 2, 3, 50, 300, 1000]) {
		add('long-words', 'a'.repeat(n));
		add('long-words', 'x ' + 'ab'.repeat(n) + ' y');
	}
	add('long-words', '中'.repeat(400));
	add('long-words', '1'.repeat(500));
	add('long-words', '!'.repeat(300));
	add('long-words', ' '.repeat(300) + 'x');
	add('long-words', 'ha'.repeat(300), { truncate: 16 });
	add('long-words', 'supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis');
	for (let i = 0; i < 10; i++)
		add('long-words', randomFrom([letters, accented, cjk], 100, 400));
	for (let i = 0; i < 30; i++)
		add('mixed-case', Array.from({ length: int(1, 6) }, () => pick(words)).map((w) => (random() < 0.5 ? w.toUpperCase() : w)).join(' '));
	for (const c of unicodeEdges) {
		add('unicode-edges', 'x' + c + 'x');
		add('unicode-edges', ' ' + c + '1' + c + '!' + c);
	}
	const all = [punctuation, letters, digits, accented, combining, greek, cyrillic, cjk, cjkAstral, kana, hangul, arabic, indic, emoji, controls, spaces, unicodeEdges, words, specials, contractions, [' ', ' ', ' ']];
	for (let i = 0; i < 400 * scale; i++)
		add('fuzz', randomFrom(all, 1, 40));
}

// Invalid UTF-8, as bytes (the library is given the lossily decoded text).
const invalidBytes = [
	[0x61, 0x62, 0xFF, 0x63, 0x64], [0x68, 0x69, 0x20, 0xE4, 0xB8, 0x20, 0x77], [0xC0, 0xAF, 0x63, 0x61, 0x74], [0x78, 0xED, 0xA0, 0x80, 0x79],
	[0x80, 0x80, 0x80], [0x63, 0x61, 0x66, 0xC3], [0xF4, 0x90, 0x80, 0x80, 0x21], [0xF0, 0x9F, 0x98], [0xF0, 0x9F, 0x98, 0x20, 0x61], [0xE0, 0x80, 0x41],
	[0xE2, 0x82, 0x41, 0x42], [0xF0, 0x80, 0x80, 0x80], [0x20, 0xFE, 0x20], [0x27, 0xC3, 0x73], [0x61, 0x00, 0x62], [0xC3, 0x28, 0xA0, 0xA1],
	[0x3C, 0x7C, 0xFF, 0x7C, 0x3E], [0xE2, 0x28, 0xA1], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xEF, 0xBF, 0xBD, 0xEF, 0xBF], [0x31, 0xC2, 0x32],
];
function invalidCases() {
	for (const b of invalidBytes)
		add('invalid-utf8', null, { bytes: b });
	for (let i = 0; i < 60; i++) {
		const b = [];
		for (let k = int(1, 16); k > 0; k--)
			b.push(random() < 0.5 ? int(0x20, 0x7E) : int(0x80, 0xFF));
		add('invalid-utf8', null, { bytes: b });
	}
}

// ---------------------------------------------------------------------------
// Character classes of the pre-tokenization pattern

const classes = (() => {
	const pre = byteLevelPreTokenizer(false, true);
	return (c) => {
		const s = cp(c);
		if (pre.preTokenizeString('a' + s + 'a').length === 1)
			return 'L';
		if (pre.preTokenizeString('1' + s + '1').length === 1)
			return 'N';
		if (pre.preTokenizeString('!' + s + '!').length === 1)
			return 'O';
		return 'S';
	};
})();

function classRuns() {
	const runs = [];
	for (let c = 0; c < 0x110000; c++) {
		if (c >= 0xD800 && c <= 0xDFFF)
			continue;
		const k = classes(c);
		const last = runs[runs.length - 1];
		if (last && last.cls === k && (last.last === c - 1 || (c === 0xE000 && last.last === 0xD7FF)))
			last.last = c;
		else
			runs.push({ first: c, last: c, cls: k });
	}
	return runs;
}

function boundaryCases(runs) {
	for (const r of runs) {
		const s = cp(r.first);
		add('class-boundaries', s + 'a' + s + '1' + s + '!' + s);
	}
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
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const lossy = (bytes) => new TextDecoder('utf-8').decode(Uint8Array.from(bytes));

async function gpt2Reference() {
	const model = await BPE.fromFile(path.join(gpt2Dir, 'vocab.json'), path.join(gpt2Dir, 'merges.txt'));
	const tok = new Tokenizer(model);
	tok.setPreTokenizer(byteLevelPreTokenizer(false, true));
	tok.setPostProcessor(byteLevelProcessing(false));
	tok.addSpecialTokens(['<|endoftext|>']);
	return tok;
}

async function writeGpt2() {
	for (const f of ['vocab.json', 'merges.txt'])
		if (!fs.existsSync(path.join(gpt2Dir, f)))
			throw new Error(`${path.join(gpt2Dir, f)} not found: pass --shared DIR`);
	const reference = await gpt2Reference();
	const truncating = await gpt2Reference();
	truncating.setTruncation(128);
	const truncating16 = await gpt2Reference();
	truncating16.setTruncation(16);

	// transformers.js reads a tokenizer.json folder: the reference, saved
	const jsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'embed-bpe-'));
	fs.mkdirSync(path.join(jsRoot, 'gpt2'));
	reference.save(path.join(jsRoot, 'gpt2', 'tokenizer.json'));
	fs.writeFileSync(path.join(jsRoot, 'gpt2', 'tokenizer_config.json'), JSON.stringify({
		tokenizer_class: 'GPT2Tokenizer', add_prefix_space: false, bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', model_max_length: 1024,
	}));
	env.allowRemoteModels = false;
	env.localModelPath = jsRoot + path.sep;
	const js = await AutoTokenizer.from_pretrained('gpt2');

	sharedVectors();
	prose();
	synthetic();
	invalidCases();
	const runs = classRuns();
	boundaryCases(runs);

	const lines = [];
	let jsDiffer = 0;
	for (const c of cases) {
		const text = c.bytes ? lossy(c.bytes) : c.text;
		const enc = await reference.encode(text);
		const row = { cat: c.cat };
		if (c.bytes)
			row.hex = hex(c.bytes);
		else
			row.text = text;
		row.ids = enc.getIds();
		if (!c.bytes && !['snli', 'wikisplit', 'long', 'class-boundaries'].includes(c.cat))
			row.offsets = byteOffsets(text, enc.getOffsets());
		if (c.truncate) {
			const t = await (c.truncate === 16 ? truncating16 : truncating).encode(text);
			row.truncate = c.truncate;
			row.ids_truncated = t.getIds();
		}
		const jsIds = js.encode(text).map(Number);
		if (!sameIds(jsIds, row.ids)) {
			row.transformers_js = jsIds;
			jsDiffer++;
		}
		lines.push(JSON.stringify(row));
	}
	fs.rmSync(jsRoot, { recursive: true, force: true });
	const jsonl = path.join(outDir, 'tokenizer_gpt2.jsonl');
	fs.writeFileSync(jsonl, lines.join('\n') + '\n');
	const tsv = path.join(outDir, 'tokenizer_gpt2_classes.tsv');
	fs.writeFileSync(tsv, '# first\tlast\tclass of each code point in GPT-2\'s pattern: L letter, N number, S white space, O other (hex; surrogates skipped)\n' +
		runs.map((r) => `${r.first.toString(16)}\t${r.last.toString(16)}\t${r.cls}`).join('\n') + '\n');
	console.log(`${cases.length} GPT-2 cases -> ${jsonl} (${fs.statSync(jsonl).size} bytes); transformers.js differs on ${jsDiffer}`);
	console.log(`${runs.length} class runs -> ${tsv}`);
}

// ---------------------------------------------------------------------------
// Variants: small byte-level tokenizers with their own vocabulary, trained
// here on a little corpus, exercising the options of tokenizer.json and of
// the vocab.json + merges.txt layout.

const bytesToUnicode = (() => {
	const bs = [];
	for (let b = 0x21; b <= 0x7E; b++) bs.push(b);
	for (let b = 0xA1; b <= 0xAC; b++) bs.push(b);
	for (let b = 0xAE; b <= 0xFF; b++) bs.push(b);
	const map = new Map(bs.map((b) => [b, String.fromCodePoint(b)]));
	let n = 0;
	for (let b = 0; b < 256; b++)
		if (!map.has(b))
			map.set(b, String.fromCodePoint(256 + n++));
	return map;
})();
const unicodeToByte = new Map([...bytesToUnicode].map(([b, c]) => [c, b]));
const alphabet = [...bytesToUnicode.keys()].sort((a, b) => a - b).map((b) => bytesToUnicode.get(b));

// The most frequent adjacent pair, merged, nMerges times (ties: smallest pair).
function trainMerges(corpus, nMerges) {
	const pre = byteLevelPreTokenizer(false, true);
	const counts = new Map();
	for (const line of corpus)
		for (const [w] of pre.preTokenizeString(line))
			counts.set(w, (counts.get(w) || 0) + 1);
	const seqs = [...counts].map(([w, c]) => ({ sym: [...w], c }));
	const merges = [];
	for (let m = 0; m < nMerges; m++) {
		const pairs = new Map();
		for (const { sym, c } of seqs)
			for (let i = 0; i + 1 < sym.length; i++) {
				const k = sym[i] + '\u0000' + sym[i + 1];
				pairs.set(k, (pairs.get(k) || 0) + c);
			}
		let best = null, bestCount = 0;
		for (const [k, c] of pairs)
			if (c > bestCount || (c === bestCount && k < best)) {
				best = k;
				bestCount = c;
			}
		if (best === null || bestCount < 2)
			break;
		const [a, b] = best.split('\u0000');
		merges.push([a, b]);
		for (const s of seqs) {
			const out = [];
			for (let i = 0; i < s.sym.length; i++)
				if (i + 1 < s.sym.length && s.sym[i] === a && s.sym[i + 1] === b) {
					out.push(a + b);
					i++;
				} else
					out.push(s.sym[i]);
			s.sym = out;
		}
	}
	return merges;
}

function trainingCorpus() {
	const snli = [...new Set(readLines('snli-devtest/s1.test'))].slice(0, 2500);
	const extra = [];
	for (let i = 0; i < 300; i++)
		extra.push(randomFrom([words, accented, greek, cyrillic, cjk, emoji, [' ', ' ', ' ', "'s", "'t", '  ', '\n']], 5, 30));
	return snli.concat(extra);
}

// vocab: specials first, then the alphabet, then merge results, then trailing specials.
function makeVocab(merges, { lead = [], tail = [], alphabetFilter = () => true, extra = [] } = {}) {
	const tokens = [...lead, ...alphabet.filter(alphabetFilter), ...merges.map(([a, b]) => a + b), ...extra, ...tail];
	const vocab = {};
	for (const t of tokens)
		if (!(t in vocab))
			vocab[t] = Object.keys(vocab).length;
	return vocab;
}

const added = (id, content, o = {}) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...o });
const byteLevel = (o = {}) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true, ...o });
const bpeModel = (vocab, merges, o = {}) => ({
	type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
	fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges, ...o,
});
const tokenizerJson = (o) => ({
	version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
	pre_tokenizer: byteLevel(), post_processor: null, decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }, ...o,
});
const mergeLines = (merges) => '#version: 0.2\n' + merges.map(([a, b]) => `${a} ${b}`).join('\n') + '\n';

function variantDefinitions(merges) {
	const robertaVocab = makeVocab(merges, { lead: ['<s>', '<pad>', '</s>', '<unk>'], tail: ['<mask>'] });
	const rid = (t) => robertaVocab[t];
	const robertaAdded = (normalized) => [
		added(0, '<s>', { normalized }), added(1, '<pad>', { normalized }), added(2, '</s>', { normalized }), added(3, '<unk>', { normalized }),
		added(rid('<mask>'), '<mask>', { lstrip: true }),
	];
	const roberta = (prefix, trim, normalized) => tokenizerJson({
		added_tokens: robertaAdded(normalized),
		pre_tokenizer: byteLevel({ add_prefix_space: prefix }),
		post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: trim, add_prefix_space: prefix },
		model: bpeModel(robertaVocab, merges, { continuing_subword_prefix: '', end_of_word_suffix: '' }),
	});
	const gpt2Vocab = makeVocab(merges, { tail: ['<|endoftext|>'] });
	const eot = gpt2Vocab['<|endoftext|>'];
	const gpt2 = (prefix, post) => tokenizerJson({
		added_tokens: [added(eot, '<|endoftext|>')],
		pre_tokenizer: byteLevel({ add_prefix_space: prefix }),
		post_processor: post,
		model: bpeModel(gpt2Vocab, merges, { continuing_subword_prefix: '', end_of_word_suffix: '' }),
	});
	const bosTemplate = {
		type: 'TemplateProcessing',
		single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
		pair: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
		special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [eot], tokens: ['<|endoftext|>'] } },
	};

	// a vocabulary without most bytes above 0x7F: unknown symbols
	const keep = (t) => [...t].every((c) => unicodeToByte.get(c) < 0x80 || c === 'Ã' || c === '©');
	const smallMerges = merges.filter(([a, b]) => keep(a) && keep(b));
	const unkVocab = makeVocab(smallMerges, { lead: ['<unk>'], alphabetFilter: keep });
	const fallbackVocab = makeVocab(smallMerges, {
		lead: ['<unk>', ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`).filter((t) => t !== '<0xC4>')],
		alphabetFilter: keep,
	});
	const unk = (o) => tokenizerJson({ model: bpeModel(unkVocab, smallMerges, { unk_token: '<unk>', ...o }) });

	// continuing_subword_prefix / end_of_word_suffix: every merge in each decorated form
	const prefixMerges = merges.flatMap(([a, b]) => [[a, '##' + b], ['##' + a, '##' + b]]);
	const prefixVocab = makeVocab(merges, { extra: alphabet.map((c) => '##' + c).concat(merges.map(([a, b]) => '##' + a + b)) });
	const suffixMerges = merges.flatMap(([a, b]) => [[a, b], [a, b + '</w>']]);
	const suffixVocab = makeVocab(merges, { extra: alphabet.map((c) => c + '</w>').concat(merges.map(([a, b]) => a + b + '</w>')) });
	const wholeWords = ['Hello', 'Ġtokenization', 'ĠPostgreSQL', 'Ġembedding', 'Ġunaffordable', 'ĠĠĠ'];
	const ignoreVocab = makeVocab(merges, { extra: wholeWords });

	const addedVocab = makeVocab(merges, { tail: ['<|endoftext|>', 'ing'] });
	const n = Object.keys(addedVocab).length;
	const manyAdded = [
		added(addedVocab['<|endoftext|>'], '<|endoftext|>'),
		added(n, '<mask>', { lstrip: true, rstrip: true }),
		added(n + 1, 'New York', { normalized: true, special: false }),
		added(addedVocab.ing, 'ing', { single_word: true, normalized: true, special: false }),
		added(n + 2, '<extra>', { rstrip: true, special: false }),
		added(n + 3, '<extra_long>', { lstrip: true }),
		added(n + 4, 'abc', { special: false }),
		added(n + 5, 'xab', { normalized: true, special: false }),
		added(n + 6, ' hello', { normalized: true, special: false, lstrip: true }),
		added(n + 7, '日本', { normalized: true, special: false, rstrip: true }),
	];

	const legacy = gpt2(false, null);
	legacy.model.merges = ['#version: 0.2', ...merges.map(([a, b]) => `${a} ${b}`), `${merges[3][0]} ${merges[3][1]}`];
	delete legacy.model.type;

	return [
		{ name: 'roberta', json: roberta(false, true, true) },
		{ name: 'roberta_prefix_space', json: roberta(true, true, false) },
		{ name: 'roberta_no_trim', json: roberta(true, false, true) },
		{ name: 'roberta_files', files: { vocab: robertaVocab, merges, config: { tokenizer_class: 'RobertaTokenizer', add_prefix_space: false, trim_offsets: true, model_max_length: 64 } },
			json: roberta(false, true, false) },
		{ name: 'roberta_files_prefix', files: { vocab: robertaVocab, merges, config: { tokenizer_class: 'RobertaTokenizerFast', add_prefix_space: true, trim_offsets: false },
			map: { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', sep_token: '</s>', pad_token: '<pad>', cls_token: '<s>', mask_token: { content: '<mask>', lstrip: true, rstrip: false, normalized: false, single_word: false } } },
			json: roberta(true, false, false) },
		{ name: 'gpt2_files', files: { vocab: gpt2Vocab, merges }, json: gpt2(false, { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }) },
		{ name: 'gpt2_files_bos', files: { vocab: gpt2Vocab, merges, config: { tokenizer_class: 'GPT2Tokenizer', add_bos_token: true, add_prefix_space: true } }, json: gpt2(true, bosTemplate) },
		{ name: 'gpt2_prefix_trim', json: gpt2(true, { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }) },
		{ name: 'no_regex', json: tokenizerJson({ ...gpt2(true, null), pre_tokenizer: byteLevel({ add_prefix_space: true, use_regex: false }) }) },
		{ name: 'sequence', json: tokenizerJson({
			...gpt2(false, null),
			pre_tokenizer: { type: 'Sequence', pretokenizers: [byteLevel({ add_prefix_space: false })] },
			post_processor: { type: 'Sequence', processors: [{ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }, bosTemplate] },
		}) },
		{ name: 'legacy_merges', json: legacy },
		{ name: 'unk_fuse', json: unk({ fuse_unk: true }), skipOffsets: true },
		{ name: 'unk_no_fuse', json: unk({ fuse_unk: false }) },
		{ name: 'no_unk', json: tokenizerJson({ model: bpeModel(unkVocab, smallMerges) }), skipOffsets: true },
		{ name: 'byte_fallback', json: tokenizerJson({ model: bpeModel(fallbackVocab, smallMerges, { unk_token: '<unk>', byte_fallback: true }) }), skipOffsets: true },
		{ name: 'subword_prefix', json: tokenizerJson({ model: bpeModel(prefixVocab, prefixMerges, { continuing_subword_prefix: '##' }) }) },
		{ name: 'word_suffix', json: tokenizerJson({ model: bpeModel(suffixVocab, suffixMerges, { end_of_word_suffix: '</w>' }) }) },
		{ name: 'ignore_merges', json: tokenizerJson({ model: bpeModel(ignoreVocab, merges, { ignore_merges: true, dropout: 0.0 }) }) },
		{ name: 'added_tokens', json: tokenizerJson({
			added_tokens: manyAdded,
			pre_tokenizer: byteLevel({ add_prefix_space: true }),
			post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
			model: bpeModel(addedVocab, merges),
		}) },
	];
}

// Long white space before tokens that strip it (for the variants with such tokens).
const longRuns = [];
const longRunVariants = ['roberta', 'roberta_prefix_space', 'added_tokens'];

function variantInputs() {
	const inputs = ['', ' ', '  ', 'Hello world', 'hello  world', ' Hello world', 'Hello world ', 'Hello, my dog is cute', "Don't stop, don't ever stop!", "I'm sure it's fine, we'll see.",
		'  leading and  multiple   spaces', 'trailing space ', 'tabs\tand\nnewlines', 'a\n\nb', 'numbers 12345 and 3.14', 'café naïve résumé', 'emoji 😀 test', '你好，世界！',
		'Привет, мир', '日本語のテキスト', 'नमस्ते', 'A man is playing a guitar.', 'The quick brown fox jumps over the lazy dog.', 'tokenization unaffordable PostgreSQL embedding',
		'<s>', '</s>', '<s> hello </s>', 'hello<mask>world', 'hello <mask> world', 'hello   <mask>   world', '<mask>', ' <mask>', '<unk> <pad>', 'x<|endoftext|>y', '<|endoftext|> hi <|endoftext|>',
		'New York New york new York', 'singing sing ing ing.', 'king ing', 'a <extra>  b', 'a   <extra_long>b', 'xabc', 'abc xab xabc', 'say hello hello', 'hello', 'x hello', '日本 語 日本語',
		'Hello', 'Hello tokenization', '   x', 'x   ', "'s 's 'S", 'naïve café', 'ÄÖÜ äöü ß', '©®', '\u00a0a\u00a0', 'a\u3000b'];
	const pool = [words, contractions, letters, digits, punctuation, spaces, accented, cjk, emoji, ['<mask>', '<s>', '</s>', '<|endoftext|>', 'New York', 'ing', ' hello', '<extra>', 'abc', 'xab', '日本']];
	for (const [before, run, after] of [['a', ' ', '<mask> b'], ['日本', ' ', '<extra_long>x'], ['x', ' ', ' hello'], ['日本', '\n', '<mask>'], ['', ' ', '<extra_long>'],
		['ing', ' ', '<mask>'], ['New York', ' ', '<mask>'], ['New York', '\t', ' hello'], ['<s>', ' ', '</s>'], ['x', '\u3000', '<mask>']])
		longRuns.push(before + run.repeat(100) + after);
	for (let i = 0; i < 30 * scale; i++)
		inputs.push(randomFrom(pool, 1, 14));
	return inputs;
}

const variantInvalid = [[0x61, 0xFF, 0x62], [0xE2, 0x82, 0x20, 0x61], [0xF0, 0x9F, 0x98], [0x3C, 0x6D, 0x61, 0x73, 0x6B, 0x3E, 0xC3], [0x20, 0x80, 0x80, 0x20], [0xED, 0xA0, 0x80]];

async function writeVariants() {
	const root = path.join(outDir, 'tokenizer_bpe_variants');
	fs.rmSync(root, { recursive: true, force: true });
	const merges = trainMerges(trainingCorpus(), 300);
	const rows = [];
	const inputs = variantInputs();
	for (const variant of variantDefinitions(merges)) {
		const dir = path.join(root, variant.name);
		fs.mkdirSync(dir, { recursive: true });
		if (variant.files) {
			fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(variant.files.vocab) + '\n');
			fs.writeFileSync(path.join(dir, 'merges.txt'), mergeLines(variant.files.merges));
			if (variant.files.config)
				fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(variant.files.config) + '\n');
			if (variant.files.map)
				fs.writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify(variant.files.map) + '\n');
		} else
			fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(variant.json) + '\n');
		const tok = Tokenizer.fromString(JSON.stringify(variant.json));
		const truncating = Tokenizer.fromString(JSON.stringify(variant.json));
		truncating.setTruncation(6);
		const entries = inputs.map((text) => ({ text }))
			.concat(longRunVariants.includes(variant.name) ? longRuns.map((text) => ({ text })) : [])
			.concat(variantInvalid.map((bytes) => ({ bytes })));
		for (const { text: given, bytes } of entries) {
			const text = bytes ? lossy(bytes) : given;
			const enc = await tok.encode(text);
			const plain = await tok.encode(text, null, { addSpecialTokens: false });
			const row = { variant: variant.name };
			if (bytes)
				row.hex = hex(bytes);
			else
				row.text = text;
			row.ids = enc.getIds();
			if (!bytes && !variant.skipOffsets)
				row.offsets = byteOffsets(text, enc.getOffsets());
			if (!sameIds(plain.getIds(), row.ids))
				row.plain = plain.getIds();
			if (row.ids.length > 6)
				row.truncated6 = (await truncating.encode(text)).getIds();
			rows.push(JSON.stringify(row));
		}
	}
	fs.writeFileSync(path.join(root, 'cases.jsonl'), rows.join('\n') + '\n');
	console.log(`${rows.length} variant cases (${merges.length} merges) -> ${root}`);
}

async function main() {
	fs.mkdirSync(outDir, { recursive: true });
	await writeVariants();
	await writeGpt2();
}

await main();
