using System.Runtime.InteropServices;

namespace TranslationTrainer.Distributed;

/// <summary>Starts the world a process belongs to: MPI only when asked or launched by mpiexec, so one process needs no MPI.</summary>
public static class World
{
    /// <summary>auto: MPI when MPICH's mpiexec launched this process (it sets PMI_RANK), else one process; mpi; none.</summary>
    public static IWorld Start(string mode, double timeoutMinutes, TextWriter errors)
    {
        if (mode == "none") return new SingleProcess();
        if (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null)
            throw new UserError("launched by Open MPI's mpirun, which this tool cannot use: launch it with MPICH's mpiexec (mpiexec.mpich)");
        bool launchedByMpiexec = Environment.GetEnvironmentVariable("PMI_RANK") is not null || Environment.GetEnvironmentVariable("PMI_SIZE") is not null;
        if (mode == "auto" && !launchedByMpiexec) return new SingleProcess();
        PassiveOpenMpWaits();
        return MpiWorld.Start(TimeSpan.FromMinutes(timeoutMinutes), errors);
    }

    /// <summary>
    /// Ranks share the machine's cores: OpenMP threads that spin while they wait slow the other ranks 3-10x.
    /// libgomp reads this when libtorch loads it, which happens after this (an explicit setting is kept).
    /// </summary>
    private static void PassiveOpenMpWaits()
    {
        if (OperatingSystem.IsLinux()) setenv("OMP_WAIT_POLICY", "PASSIVE", overwrite: 0);
    }

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);
}
