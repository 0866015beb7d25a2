using System.Text.RegularExpressions;

namespace TranslationTrainer;

/// <summary>
/// A failure caused by what the user gave us (a file, a line, a setting). The CLI prints the message alone on one
/// line and exits non-zero; anything else is a bug and keeps its stack trace in the log. Settings are named in the
/// template between backticks (`beam`): Message shows the name ("beam must be at least 1"), CommandLineMessage the
/// option the CLI takes for it ("--beam must be at least 1").
/// </summary>
public sealed partial class UserError(string template, Exception? inner = null) : Exception(SettingName().Replace(template, "$1"), inner)
{
    /// <summary>The message with its settings marked, for an error that wraps this one.</summary>
    public string Template => template;

    /// <summary>The message with each setting written as its command-line option.</summary>
    public string CommandLineMessage => SettingName().Replace(template, "--$1");

    [GeneratedRegex("`([a-z][a-z0-9-]*)`")]
    private static partial Regex SettingName();
}
