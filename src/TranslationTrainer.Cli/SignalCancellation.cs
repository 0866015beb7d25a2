using System.Runtime.InteropServices;

namespace TranslationTrainer.Cli;

/// <summary>
/// Turns the first SIGINT/SIGTERM into a cancellation the work checks between steps (so it can save and
/// exit cleanly); a second signal ends the process at once, as users expect of a repeated Ctrl-C.
/// </summary>
public sealed class SignalCancellation : IDisposable
{
    private readonly CancellationTokenSource source = new();
    private readonly PosixSignalRegistration[] registrations;

    public CancellationToken Token => source.Token;
    /// <summary>130 after SIGINT, 143 after SIGTERM, as shells report them.</summary>
    public int ExitCode { get; private set; } = 130;

    public SignalCancellation()
    {
        registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, context => Handle(context, 130)),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Handle(context, 143)),
        ];
    }

    private void Handle(PosixSignalContext context, int exitCode)
    {
        if (source.IsCancellationRequested) return;
        context.Cancel = true;
        ExitCode = exitCode;
        source.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in registrations) registration.Dispose();
        source.Dispose();
    }
}
