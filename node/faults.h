/* node/faults.h — fault injection for tests, compiled only into
 * `cohortd-faults` (node/CMakeLists.txt builds it with COHORT_FAULTS in
 * every build type but Release; the release binary `cohortd` never has
 * it, and faults.c refuses to compile under COHORT_RELEASE).
 *
 * COHORT_FAIL_AT=POINT:N   the N-th time POINT is reached, the process
 *                          kills itself with SIGKILL (as a power cut would).
 *                          Points, in the order of one vote's durable steps:
 *                            wal_sync   the WAL was fsynced before a signature
 *                            signed     the signer made its state durable and
 *                                       returned the signature
 *                            wal_own    our signed message is in the WAL
 *                            propose    our block is in the WAL, not yet signed
 *                            commit     the block's batch is in LevelDB, the
 *                                       WAL has no END_HEIGHT yet
 *                            end_height the WAL has END_HEIGHT, not rotated
 * COHORT_EQUIVOCATE=1      a byzantine validator: with every prevote it
 *                          signs, it also signs a prevote for another
 *                          block with its raw key (around its signer's
 *                          double-sign guard) and sends each to half of
 *                          its peers.
 */
#ifndef COHORT_NODE_FAULTS_H
#define COHORT_NODE_FAULTS_H

#ifdef COHORT_FAULTS
void fault_point(const char *point);
int fault_equivocate(void);
#define FAULT(p) fault_point(p)
#else
#define FAULT(p) ((void)0)
#define fault_equivocate() 0
#endif

#endif
