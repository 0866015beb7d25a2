using System.CommandLine;
using System.Text;
using TranslationTrainer.Text;

namespace TranslationTrainer.Cli;

/// <summary>`encode`: text lines on stdin → subword pieces (or ids) on stdout, like spm_encode.</summary>
public static class EncodeCommand
{
    public static Command Create(CliContext context)
    {
        var vocab = new Option<string>("--vocab") { Description = "Vocabulary directory (from `vocab`, a SentencePiece .model, or vocab.json + merges.txt).", Required = true };
        var ids = new Option<bool>("--ids") { Description = "Print ids instead of pieces." };
        var side = SideOption("source");
        var command = new Command("encode", "Encode stdin line by line into space-separated subword pieces (no <s>/</s> added).") { vocab, ids, side };
        command.SetAction(parse => context.Guard(() =>
        {
            var vocabulary = Pick(VocabularyPair.Load(parse.GetValue(vocab)!), parse.GetValue(side)!);
            bool printIds = parse.GetValue(ids);
            var buffer = new StringBuilder();
            string? line;
            while ((line = context.In.ReadLine()) is not null)
            {
                if (printIds)
                {
                    buffer.AppendJoin(' ', vocabulary.Encode(line));
                }
                else
                {
                    buffer.AppendJoin(' ', vocabulary.EncodeToPieces(line));
                }
                buffer.Append('\n');
                if (buffer.Length > 1 << 16)
                {
                    context.Out.Write(buffer); // one write per 64 KB: per-line writes to a console dominate the run time
                    buffer.Clear();
                }
            }
            context.Out.Write(buffer);
            context.Out.Flush();
            return 0;
        }));
        return command;
    }

    internal static Option<string> SideOption(string defaultSide)
    {
        var side = new Option<string>("--side") { Description = "Which vocabulary of a separate pair to use: source or target (a joint one is both).", DefaultValueFactory = _ => defaultSide };
        side.AcceptOnlyFromAmong("source", "target");
        return side;
    }

    internal static Vocabulary Pick(VocabularyPair pair, string side) => side == "target" ? pair.Target : pair.Source;
}
