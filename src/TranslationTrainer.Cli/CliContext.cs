namespace TranslationTrainer.Cli;

/// <summary>The streams a command talks to; tests swap them for in-memory ones.</summary>
public sealed record CliContext(TextReader In, TextWriter Out, TextWriter Error)
{
    public static CliContext Console => new(System.Console.In, System.Console.Out, System.Console.Error);

    /// <summary>Runs a command body, turning user errors into one line on stderr and exit code 1.</summary>
    public int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (UserError e)
        {
            Error.WriteLine($"error: {e.CommandLineMessage}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            Error.WriteLine("interrupted");
            return 130;
        }
    }
}
