using System.CommandLine;
using System.Text;
using TranslationTrainer.Text;

namespace TranslationTrainer.Cli;

/// <summary>`decode`: subword pieces (or ids) on stdin → text on stdout, like spm_decode.</summary>
public static class DecodeCommand
{
    public static Command Create(CliContext context)
    {
        var vocab = new Option<string>("--vocab") { Description = "Vocabulary directory.", Required = true };
        var ids = new Option<bool>("--ids") { Description = "Read ids instead of pieces." };
        var side = EncodeCommand.SideOption("target");
        var command = new Command("decode", "Decode space-separated pieces (or ids) on stdin into text; <pad> <unk> <s> </s> are dropped.") { vocab, ids, side };
        command.SetAction(parse => context.Guard(() =>
        {
            var vocabulary = EncodeCommand.Pick(VocabularyPair.Load(parse.GetValue(vocab)!), parse.GetValue(side)!);
            bool readIds = parse.GetValue(ids);
            var buffer = new StringBuilder();
            string? line;
            int lineNumber = 0;
            while ((line = context.In.ReadLine()) is not null)
            {
                lineNumber++;
                var tokens = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var lineIds = tokens.Select(token => readIds ? ParseId(token, lineNumber) : vocabulary.PieceToId(token)
                    ?? throw new UserError($"stdin:{lineNumber}: unknown piece '{token}'"));
                try
                {
                    buffer.Append(vocabulary.Decode(lineIds)).Append('\n');
                }
                catch (UserError e) when (!e.Message.StartsWith("stdin:", StringComparison.Ordinal))
                {
                    throw new UserError($"stdin:{lineNumber}: {e.Template}");
                }
                if (buffer.Length > 1 << 16)
                {
                    context.Out.Write(buffer);
                    buffer.Clear();
                }
            }
            context.Out.Write(buffer);
            context.Out.Flush();
            return 0;
        }));
        return command;
    }

    private static int ParseId(string token, int lineNumber)
        => int.TryParse(token, out int id) ? id : throw new UserError($"stdin:{lineNumber}: '{token}' is not an id");
}
