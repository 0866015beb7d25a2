using System.Text;

namespace TranslationTrainer.Text;

/// <summary>Reads a text file line by line, strictly as UTF-8, so a bad byte is reported with its line number.</summary>
public static class Utf8Lines
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static IEnumerable<string> Read(string path)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{path}: cannot read ({e.Message})", e);
        }
        using (stream)
        {
            var line = new List<byte>(256);
            int lineNumber = 0;
            int b;
            while ((b = stream.ReadByte()) >= 0)
            {
                if (b != '\n')
                {
                    line.Add((byte)b);
                    continue;
                }
                yield return Decode(path, ++lineNumber, line);
                line.Clear();
            }
            if (line.Count > 0)
            {
                yield return Decode(path, ++lineNumber, line);
            }
        }
    }

    private static string Decode(string path, int lineNumber, List<byte> bytes)
    {
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes);
        if (lineNumber == 1 && span.StartsWith("\uFEFF"u8))
        {
            span = span[3..]; // a UTF-8 byte-order mark is not text
        }
        if (span.EndsWith("\r"u8))
        {
            span = span[..^1];
        }
        try
        {
            return Strict.GetString(span);
        }
        catch (DecoderFallbackException)
        {
            throw new UserError($"{path}:{lineNumber}: not valid UTF-8");
        }
    }
}
