using Serilog;
using Serilog.Events;

namespace TranslationTrainer;

/// <summary>Serilog set up the one way: console lines on stderr (stdout is for results), plus a file when given.</summary>
public static class RunLog
{
    public static Serilog.Core.Logger Create(string? logFile, LogEventLevel consoleLevel = LogEventLevel.Information)
    {
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Debug()
            .WriteTo.Console(restrictedToMinimumLevel: consoleLevel, standardErrorFromLevel: LogEventLevel.Verbose,
                outputTemplate: "{Timestamp:HH:mm:ss} {Level:u3} {Message:lj}{NewLine}");
        if (logFile is not null)
            configuration = configuration.WriteTo.File(logFile, outputTemplate: "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} {Level:u3} {Message:lj}{NewLine}{Exception}");
        return configuration.CreateLogger();
    }
}
