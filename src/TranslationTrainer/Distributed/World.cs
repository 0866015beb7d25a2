namespace TranslationTrainer.Distributed;

/// <summary>Starts the world a process belongs to: MPI only when asked or launched by mpiexec, so one process needs no MPI.</summary>
public static class World
{
    /// <summary>Whether MPICH's mpiexec launched this process (it sets PMI_RANK and PMI_SIZE).</summary>
    public static bool LaunchedByMpiexec =>
        Environment.GetEnvironmentVariable("PMI_RANK") is not null || Environment.GetEnvironmentVariable("PMI_SIZE") is not null;

    /// <summary>auto: MPI when MPICH's mpiexec launched this process, else one process; mpi; none.</summary>
    public static IWorld Start(string mode, double timeoutMinutes, TextWriter errors)
    {
        if (mode == "none") return new SingleProcess();
        if (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null)
            throw new UserError("launched by Open MPI's mpirun, which this tool cannot use: launch it with MPICH's mpiexec (mpiexec.mpich)");
        if (mode == "auto" && !LaunchedByMpiexec) return new SingleProcess();
        return MpiWorld.Start(TimeSpan.FromMinutes(timeoutMinutes), errors);
    }
}
