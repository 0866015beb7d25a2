namespace TranslationTrainer.Training;

/// <summary>
/// One trainer per run directory: a ".lock" file holding the owner's pid, created atomically. A lock whose
/// process is gone (killed, crashed) is stale and taken over.
/// </summary>
public sealed class RunLock : IDisposable
{
    private readonly string path;

    private RunLock(string path) => this.path = path;

    public static RunLock Acquire(string runDir)
    {
        var path = Path.Combine(runDir, ".lock");
        for (int attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
                using var writer = new StreamWriter(stream);
                writer.Write(Environment.ProcessId);
                return new RunLock(path);
            }
            catch (IOException) when (File.Exists(path))
            {
                var owner = int.TryParse(File.ReadAllText(path).Trim(), out var pid) ? pid : -1;
                if (owner > 0 && owner != Environment.ProcessId && IsRunning(owner))
                    throw new UserError($"`run-dir` {runDir} is in use by another train process (pid {owner})");
                File.Delete(path); // stale: its owner is gone
            }
        }
        throw new UserError($"`run-dir` {runDir}: cannot take the lock file {path}");
    }

    private static bool IsRunning(int pid) => Directory.Exists($"/proc/{pid}") || (!OperatingSystem.IsLinux() && ProcessExists(pid));

    private static bool ProcessExists(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    public void Dispose() => File.Delete(path);
}
