// Prints the C tables of wordpiece.c that describe where Hugging Face
// tokenizers' character classes differ from current Unicode data.
//
// tokenizers (Rust) classifies "other" (Cc/Cf/Co), punctuation (P*) and
// non-spacing marks (Mn) with the frozen tables of the unicode_categories
// crate, which predate many characters, and its NFD data (decompositions,
// combining classes) is older than current Unicode too.  This script asks
// the real library about every code point and compares with the Unicode
// data of this Node.js (ICU), which agrees with utf8proc's for the
// characters concerned.
//
//   node unicode-tables.mjs > /tmp/tables.c   (then replace the tables of
//   src/engine/wordpiece.c, hf_unlisted .. hf_starters, with its output)
import { bertNormalizer, bertPreTokenizer, nfdNormalizer } from 'tokenizers';

const cleanOnly = bertNormalizer({ cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false });
const stripOnly = bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false });
const lowerOnly = bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: true });
const preTokenizer = bertPreTokenizer();
const rustNfd = nfdNormalizer();

const isOther = (c) => /^[\p{Cc}\p{Cf}\p{Co}]$/u.test(c);
const isPunct = (c) => /^\p{P}$/u.test(c);
const isMn = (c) => /^\p{Mn}$/u.test(c);
const asciiPunct = (cp) => (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);

const unlisted = [];      // modern class is Other/P/Mn, HF's tables do not list it
const extra = [];         // HF lists it in a class that modern data does not give it
const decomp = [];        // NFD differs
const lower = [];         // lowercase differs from JS's per-character toLowerCase
const starters = [];      // combining class 0 for tokenizers' NFD, not for current Unicode

for (let cp = 0; cp < 0x110000; cp++) {
	if (cp >= 0xD800 && cp <= 0xDFFF)
		continue;
	const c = String.fromCodePoint(cp);
	const tnl = cp === 0 || cp === 9 || cp === 10 || cp === 13 || cp === 0xFFFD;
	const hfOther = !tnl && cleanOnly.normalizeString('a' + c + 'a') === 'aa';
	const hfPunct = !asciiPunct(cp) && preTokenizer.preTokenizeString('a' + c + 'a').length === 3;
	const nfd = c.normalize('NFD');
	const stripped = stripOnly.normalizeString('a' + c).slice(1);
	const hfMn = nfd === c && stripped === '';
	const modOther = !tnl && isOther(c), modPunct = !asciiPunct(cp) && isPunct(c), modMn = isMn(c);
	if ((modOther && !hfOther) || (modPunct && !hfPunct) || (modMn && nfd === c && !hfMn))
		unlisted.push(cp);
	if (hfOther && !modOther) extra.push([cp, 'OTHER']);
	if (hfPunct && !modPunct) extra.push([cp, 'PUNCT']);
	if (hfMn && !modMn) extra.push([cp, 'MN']);
	if (nfd !== c && stripped === c)
		decomp.push(cp);
	// canonical ordering: does c move past a mark of class 220 or 230?
	for (const probe of ['a' + c + '\u0316', 'a\u0301' + c]) {
		const modern = probe.normalize('NFD');
		if (modern !== probe && rustNfd.normalizeString(probe) === probe) {
			starters.push(cp);
			break;
		}
	}
	const l = lowerOnly.normalizeString(c);
	if (cp !== 0x130 && l !== c.toLowerCase() && [...c.toLowerCase()].length === 1)
		lower.push([cp, l.codePointAt(0)]);
}

const ranges = [];
for (const cp of unlisted) {
	const last = ranges[ranges.length - 1];
	if (last && last[1] === cp - 1) last[1] = cp; else ranges.push([cp, cp]);
}
const hex = (x) => '0x' + x.toString(16).toUpperCase().padStart(4, '0');

// Print items as C initialiser lines of at most 96 columns.
function table(decl, items) {
	let out = decl + ' = {\n';
	let line = '\t';
	for (const item of items) {
		if (line.length + item.length + 1 > 96) { out += line.trimEnd() + '\n'; line = '\t'; }
		line += item + ' ';
	}
	return out + line.trimEnd() + '\n};\n';
}

let out = '';
out += table('static const CodeRange hf_unlisted[]', ranges.map(([a, b]) => `{${hex(a)}, ${hex(b)}},`));
out += table('static const uint32_t hf_extra_punct[]', extra.filter(([, k]) => k === 'PUNCT').map(([cp]) => hex(cp) + ','));
out += table('static const uint32_t hf_extra_mn[]', extra.filter(([, k]) => k === 'MN').map(([cp]) => hex(cp) + ','));
if (extra.some(([, k]) => k === 'OTHER'))
	throw new Error('tokenizers removes a character that current Unicode does not call Cc/Cf/Co: extend wordpiece.c');
out += table('static const uint32_t hf_no_decomposition[]', decomp.map((cp) => hex(cp) + ','));
const starterRanges = [];
for (const cp of starters) {
	const last = starterRanges[starterRanges.length - 1];
	if (last && last[1] === cp - 1) last[1] = cp; else starterRanges.push([cp, cp]);
}
out += table('static const CodeRange hf_starters[]', starterRanges.map(([a, b]) => `{${hex(a)}, ${hex(b)}},`));
if (lower.length)
	out += '/* lowercase differs: ' + lower.map(([a, b]) => hex(a) + '->' + hex(b)).join(', ') + ' */\n';
process.stdout.write(out);
