using System.Globalization;
using System.Text;
using TranslationTrainer.Training;

namespace TranslationTrainer.Cli;

/// <summary>
/// The live progress line of `train` on a terminal: redrawn in place at most a few times a second, cleared
/// whenever a log line is written through it (Serilog's console output goes through this writer) and redrawn
/// below that line. Without a terminal `train` prints only the periodic log lines.
/// </summary>
public sealed class StatusLine(TextWriter terminal, TimeSpan? redrawInterval = null, int? width = null) : TextWriter
{
    private const string ClearLine = "\r\u001b[2K";
    private readonly TimeSpan interval = redrawInterval ?? TimeSpan.FromMilliseconds(250);
    private readonly Lock gate = new();
    private string? latest;
    private bool drawn, atLineStart = true;
    private DateTime lastDraw = DateTime.MinValue;

    private TextWriter? replacedError;

    public override Encoding Encoding => terminal.Encoding;

    /// <summary>Puts a status line on stderr: Console.Error writes through it until it is disposed.</summary>
    public static StatusLine Attach()
    {
        var line = new StatusLine(Console.Error) { replacedError = Console.Error };
        Console.SetError(line);
        return line;
    }

    public void Show(TrainingStatus status)
    {
        lock (gate)
        {
            latest = Format(status, width ?? TerminalWidth());
            if (DateTime.UtcNow - lastDraw >= interval) Draw();
        }
    }

    public static string Format(TrainingStatus s, int width)
    {
        var c = CultureInfo.InvariantCulture;
        string bar = "";
        if (s.Eta is { } eta)
        {
            double done = s.Elapsed / (s.Elapsed + eta);
            int filled = (int)Math.Round(done * 20);
            bar = $"[{new string('#', filled)}{new string('.', 20 - filled)}] {done * 100,3:F0}% ";
        }
        var text = string.Create(c, $"{bar}update {s.Update:N0} | epoch {s.Epoch} | loss {s.Loss:F3} | lr {s.LearningRate:0.0e+00} | {s.TokensPerSecond:N0} tok/s | {s.Elapsed:hh\\:mm\\:ss} | ETA {(s.Eta is { } e ? e.ToString(@"hh\:mm\:ss", c) : "?")}");
        return text.Length > width ? text[..width] : text;
    }

    public override void Write(char value)
    {
        lock (gate)
        {
            Hide();
            terminal.Write(value);
            atLineStart = value == '\n';
        }
    }

    public override void Write(string? value)
    {
        if (string.IsNullOrEmpty(value)) return;
        lock (gate)
        {
            Hide();
            terminal.Write(value);
            atLineStart = value.EndsWith('\n');
        }
    }

    /// <summary>Serilog flushes after each event: the status goes back under the finished line.</summary>
    public override void Flush()
    {
        lock (gate)
        {
            if (atLineStart) Draw();
            terminal.Flush();
        }
    }

    private void Draw()
    {
        if (latest is null || !atLineStart) return;
        terminal.Write(ClearLine + latest);
        terminal.Flush();
        drawn = true;
        lastDraw = DateTime.UtcNow;
    }

    private void Hide()
    {
        if (!drawn) return;
        terminal.Write(ClearLine);
        drawn = false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            lock (gate)
            {
                Hide();
                latest = null;
                terminal.Flush();
                if (replacedError is not null) Console.SetError(replacedError);
            }
        base.Dispose(disposing);
    }

    private static int TerminalWidth()
    {
        try { return Console.WindowWidth > 20 ? Console.WindowWidth - 1 : 119; }
        catch (IOException) { return 119; }
    }
}
