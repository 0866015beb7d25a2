namespace TranslationTrainer.Speech;

/// <summary>One line of a manifest: the WAV file (a full path) and its text; <see cref="Line"/> counts from 1.</summary>
public sealed record SpeechUtterance(string WavPath, string Text, int Line);

/// <summary>
/// A speech manifest: UTF-8 text, one utterance a line, <c>wav path &lt;TAB&gt; text</c> (the text is everything after
/// the first tab). A relative path is taken against the manifest's directory. A line without a tab, with an empty path
/// or text, or naming a WAV file that does not exist is a one-line <see cref="UserError"/> naming the manifest and
/// the line. The WAV files themselves are read later (<see cref="WavFile"/>).
/// </summary>
public static class SpeechManifest
{
    public static IReadOnlyList<SpeechUtterance> Read(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var utterances = new List<SpeechUtterance>();
        int number = 0;
        foreach (var line in TextFile.ReadLines(path))
        {
            number++;
            int tab = line.IndexOf('\t');
            if (tab < 0) throw new UserError($"{path} line {number}: no tab (expected 'wav path<TAB>text')");
            var wav = line[..tab].Trim();
            var text = line[(tab + 1)..].Trim();
            if (wav.Length == 0) throw new UserError($"{path} line {number}: empty wav path");
            if (text.Length == 0) throw new UserError($"{path} line {number}: empty text for {wav}");
            var full = Path.GetFullPath(Path.Combine(directory, wav));
            if (!File.Exists(full)) throw new UserError($"{path} line {number}: {wav}: WAV file not found ({full})");
            utterances.Add(new SpeechUtterance(full, text, number));
        }
        if (utterances.Count == 0) throw new UserError($"{path}: empty manifest");
        return utterances;
    }

    /// <summary>Reads the manifest and every WAV file it names (at least one frame each), so that bad audio is refused before anything is written.</summary>
    public static void CheckAudio(string path)
    {
        foreach (var utterance in Read(path))
        {
            try
            {
                LogMelFeatures.RequireOneFrame(WavFile.Read(utterance.WavPath), utterance.WavPath);
            }
            catch (UserError e)
            {
                throw new UserError($"{path} line {utterance.Line}: {e.Message}");
            }
        }
    }
}
