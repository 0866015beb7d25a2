using System.CommandLine;
using TranslationTrainer.Text;

namespace TranslationTrainer.Cli;

/// <summary>`vocab`: learns a BPE vocabulary from text files and saves it to a directory.</summary>
public static class VocabCommand
{
    public static Command Create(CliContext context)
    {
        var defaults = new VocabularyOptions();
        var input = new Option<string[]>("--input") { Description = "Text files, one sentence a line, for one joint vocabulary (both languages).", AllowMultipleArgumentsPerToken = true };
        var separate = new Option<bool>("--separate") { Description = "Learn one vocabulary per language from --source-input and --target-input (no tied embeddings)." };
        var sourceInput = new Option<string[]>("--source-input") { Description = "With --separate: the source-language files.", AllowMultipleArgumentsPerToken = true };
        var targetInput = new Option<string[]>("--target-input") { Description = "With --separate: the target-language files.", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--output") { Description = "Directory to write (vocab.json, merges.txt, manifest.json; source/ and target/ with --separate).", Required = true };
        var vocabSize = new Option<int>("--vocab-size") { Description = "Pieces per vocabulary, including <pad> <unk> <s> </s> and the 256 byte pieces.", DefaultValueFactory = _ => defaults.VocabSize };
        var minFrequency = new Option<int>("--min-frequency") { Description = "Never merge a pair seen fewer times.", DefaultValueFactory = _ => defaults.MinFrequency };
        var coverage = new Option<double>("--character-coverage") { Description = "Share of character occurrences given their own piece; rarer characters are encoded as UTF-8 byte pieces <0xNN>.", DefaultValueFactory = _ => defaults.CharacterCoverage };
        var normalization = new Option<string>("--normalization") { Description = "Unicode normalisation before anything else: none, nfc or nfkc. Whitespace runs always become one space; leading/trailing spaces are dropped.", DefaultValueFactory = _ => "nfkc" };
        normalization.AcceptOnlyFromAmong("none", "nfc", "nfkc");
        var noByteFallback = new Option<bool>("--no-byte-fallback") { Description = "No byte pieces: characters outside the alphabet become <unk> (and vanish when decoded)." };
        var force = new Option<bool>("--force") { Description = "Replace --output if it exists." };

        var command = new Command("vocab", "Learn a byte-pair-encoding vocabulary (SentencePiece-style ▁ word marker, fixed ids <pad>=0 <unk>=1 <s>=2 </s>=3).")
        {
            input, separate, sourceInput, targetInput, output, vocabSize, minFrequency, coverage, normalization, noByteFallback, force,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            string[] joint = parse.GetValue(input) ?? [], source = parse.GetValue(sourceInput) ?? [], target = parse.GetValue(targetInput) ?? [];
            bool isSeparate = parse.GetValue(separate);
            if (isSeparate && (joint.Length > 0 || source.Length == 0 || target.Length == 0))
            {
                throw new UserError("--separate takes --source-input FILE... and --target-input FILE... (not --input)");
            }
            if (!isSeparate && (joint.Length == 0 || source.Length > 0 || target.Length > 0))
            {
                throw new UserError("give --input FILE... for a joint vocabulary, or --separate with --source-input and --target-input");
            }
            var options = new VocabularyOptions(parse.GetValue(vocabSize), parse.GetValue(minFrequency), parse.GetValue(coverage),
                TextNormalizer.Parse(parse.GetValue(normalization)!), !parse.GetValue(noByteFallback));
            var pair = VocabularyBuilder.Build(new VocabularyRequest(isSeparate ? source : joint, isSeparate ? target : null,
                parse.GetValue(output)!, options, parse.GetValue(force)));
            context.Out.WriteLine(pair.Joint
                ? $"{parse.GetValue(output)}: joint vocabulary, {pair.Source.Size} pieces, fingerprint {pair.Fingerprint}"
                : $"{parse.GetValue(output)}: source {pair.Source.Size} + target {pair.Target.Size} pieces, fingerprint {pair.Fingerprint}");
            return 0;
        }));
        return command;
    }
}
