using System.Text;

namespace TranslationTrainer;

/// <summary>
/// Reads text files line by line the one way the whole project does: UTF-8 (a BOM is stripped),
/// '\n' or "\r\n" line ends, and invalid bytes reported with the file and line number.
/// </summary>
public static class TextFile
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Checks that a path names a readable file, so errors name it before any work starts.</summary>
    public static void RequireFile(string path, string what = "file")
    {
        if (Directory.Exists(path)) throw new UserError($"{path}: is a directory, not a file ({what})");
        if (!File.Exists(path)) throw new UserError($"{path}: {what} not found");
    }

    public static IEnumerable<string> ReadLines(string path)
    {
        RequireFile(path);
        Stream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{path}: cannot read ({e.Message})");
        }
        using (stream)
        {
            foreach (var line in ReadLines(stream, path)) yield return line;
        }
    }

    /// <summary>Splits on '\n' before decoding, so an invalid byte is blamed on the right line.</summary>
    public static IEnumerable<string> ReadLines(Stream stream, string name)
    {
        var buffer = new byte[1 << 16];
        var line = new MemoryStream();
        int lineNumber = 0, read;
        bool first = true;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            int start = 0;
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] != (byte)'\n') continue;
                line.Write(buffer, start, i - start);
                start = i + 1;
                yield return Decode(line, ++lineNumber, name, ref first);
                line.SetLength(0);
            }
            line.Write(buffer, start, read - start);
        }
        bool onlyBom = lineNumber == 0 && line.GetBuffer().AsSpan(0, (int)line.Length).SequenceEqual("\uFEFF"u8);
        if (line.Length > 0 && !onlyBom) yield return Decode(line, ++lineNumber, name, ref first);
    }

    private static string Decode(MemoryStream line, int lineNumber, string name, ref bool first)
    {
        var bytes = line.GetBuffer().AsSpan(0, (int)line.Length);
        if (bytes.Length > 0 && bytes[^1] == (byte)'\r') bytes = bytes[..^1];
        if (first && bytes.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        first = false;
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new UserError($"{name}:{lineNumber}: invalid UTF-8");
        }
    }

    /// <summary>Writes lines through a temporary file and a rename, so readers never see half a file.</summary>
    public static void WriteLinesAtomically(string path, IEnumerable<string> lines)
    {
        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, StrictUtf8, leaveOpen: true) { NewLine = "\n" };
            foreach (var line in lines) writer.WriteLine(line);
        });
    }
}

/// <summary>Write-to-temporary-then-rename, the only way this project writes files that matter.</summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(directory)) throw new UserError($"{path}: directory {directory} does not exist");
        var temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // A full disk or a lost permission is the user's to fix: one line, and the old file is intact.
            File.Delete(temp);
            throw new UserError($"{path}: cannot write ({e.Message})", e);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
