using System.Security.Cryptography;

namespace TranslationTrainer.Text;

/// <summary>What `vocab` builds: one joint vocabulary from <see cref="SourceFiles"/>, or a pair when <see cref="TargetFiles"/> is given.</summary>
public sealed record VocabularyRequest(
    IReadOnlyList<string> SourceFiles,
    IReadOnlyList<string>? TargetFiles,
    string Output,
    VocabularyOptions Options,
    bool Overwrite = false);

/// <summary>Learns from files and saves the vocabulary directory atomically: written under a temporary name, then renamed.</summary>
public static class VocabularyBuilder
{
    public static VocabularyPair Build(VocabularyRequest request)
    {
        string output = Path.GetFullPath(request.Output);
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any() && !request.Overwrite)
        {
            throw new UserError($"{request.Output}: already exists and is not empty (use `force` to replace it)");
        }
        if (File.Exists(output))
        {
            throw new UserError($"{request.Output}: is a file, not a directory");
        }
        bool joint = request.TargetFiles is null;
        var training = request.SourceFiles.Select(f => Describe(joint ? "joint" : "source", f))
            .Concat((request.TargetFiles ?? []).Select(f => Describe("target", f))).ToList();

        BpeModel Learn(IEnumerable<string> files) => BpeLearner.Learn(files.SelectMany(TextFile.ReadLines), request.Options);
        var models = joint
            ? new[] { ("", Learn(request.SourceFiles)) }
            : new[] { (VocabularyPair.SourceDirectory, Learn(request.SourceFiles)), (VocabularyPair.TargetDirectory, Learn(request.TargetFiles!)) };

        string parent = Path.GetDirectoryName(output)!;
        Directory.CreateDirectory(parent);
        string temporary = Path.Combine(parent, $".{Path.GetFileName(output)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            foreach (var (subdirectory, model) in models)
            {
                BpeFiles.Write(model, Path.Combine(temporary, subdirectory));
            }
            new VocabularyManifest(1, joint ? VocabularyManifest.Joint : VocabularyManifest.Separate, "bpe",
                request.Options.Normalization, VocabularyManifest.WhitespaceRule, WordSplitter.Pattern,
                SpecialIds.Fixed, request.Options, training).Write(temporary);
            VocabularyPair.Load(temporary); // never publish files our own loader rejects
            Replace(temporary, output);
        }
        catch
        {
            if (Directory.Exists(temporary))
            {
                Directory.Delete(temporary, recursive: true);
            }
            throw;
        }
        return VocabularyPair.Load(output);
    }

    /// <summary>Moves the finished directory into place; an old one is moved aside first and deleted after.</summary>
    private static void Replace(string temporary, string output)
    {
        string? old = null;
        if (Directory.Exists(output))
        {
            old = temporary + ".old";
            Directory.Move(output, old);
        }
        Directory.Move(temporary, output);
        if (old is not null)
        {
            Directory.Delete(old, recursive: true);
        }
    }

    /// <summary>Hashes a training file for the manifest and rejects one with no text at all.</summary>
    private static TrainingFile Describe(string side, string path)
    {
        TextFile.RequireFile(path, "input file");
        byte[] content;
        try
        {
            content = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{path}: cannot read ({e.Message})", e);
        }
        if (content.All(b => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
        {
            throw new UserError($"{path}: empty file");
        }
        return new TrainingFile(side, path, Convert.ToHexStringLower(SHA256.HashData(content)), content.Length);
    }
}
