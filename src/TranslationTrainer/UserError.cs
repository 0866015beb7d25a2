namespace TranslationTrainer;

/// <summary>
/// A failure caused by what the user gave us (a file, a line, an option). The CLI prints the message
/// alone on one line and exits non-zero; anything else is a bug and keeps its stack trace in the log.
/// </summary>
public sealed class UserError(string message, Exception? inner = null) : Exception(message, inner);
